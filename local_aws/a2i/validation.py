"""Server-side checks of request members against the constraints in botocore's service models.

botocore validates types, required members and minimums on the client; patterns, maximums and
cross-field rules are the service's job, so the emulator checks them and answers the way AWS does:
`ValidationException: 1 validation error detected: Value '...' at 'Field' failed to satisfy ...`.
The limits, patterns and enums are the installed model's, read by the member's path in the request.
"""

import re
from typing import Any

from local_aws.core.errors import ApiError
from local_aws.core.service_models import input_member

_SHOWN_CHARS = 80


def invalid(path: str, value: Any, constraint: str) -> ApiError:
    shown = "null" if value is None else f"'{_shorten(value)}'"
    return ApiError(
        "ValidationException",
        f"1 validation error detected: Value {shown} at '{path}' failed to satisfy constraint: {constraint}",
    )


def _shorten(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]}... ({len(text)} characters)"


class OperationInput:
    """The input of one operation of a service; each check takes a member's value and its path in the
    request (`HumanLoopConfig.TaskCount`, which is also what an error names) and returns the value."""

    def __init__(self, service: str, operation: str) -> None:
        self.service = service
        self.operation = operation

    def _constraints(self, path: str) -> dict[str, Any]:
        return input_member(self.service, self.operation, path).metadata

    def structure(self, value: Any, path: str, *, required: bool = True) -> dict | None:
        if value is None:
            if required:
                raise invalid(path, None, "Member must not be null")
            return None
        if not isinstance(value, dict):
            raise invalid(path, value, "Member must be a structure")
        return value

    def string(self, value: Any, path: str, *, required: bool = True) -> str | None:
        if value is None:
            if required:
                raise invalid(path, None, "Member must not be null")
            return None
        if not isinstance(value, str):
            raise invalid(path, value, "Member must be a string")
        constraints = self._constraints(path)
        min_len, max_len, pattern = (constraints.get(key) for key in ("min", "max", "pattern"))
        if min_len is not None and len(value) < min_len:
            raise invalid(path, value, f"Member must have length greater than or equal to {min_len}")
        if max_len is not None and len(value) > max_len:
            raise invalid(path, value, f"Member must have length less than or equal to {max_len}")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise invalid(path, value, f"Member must satisfy regular expression pattern: {pattern}")
        return value

    def integer(self, value: Any, path: str, *, required: bool = False) -> int | None:
        if value is None:
            if required:
                raise invalid(path, None, "Member must not be null")
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(path, value, "Member must be an integer")
        constraints = self._constraints(path)
        minimum, maximum = constraints.get("min"), constraints.get("max")
        if minimum is not None and value < minimum:
            raise invalid(path, value, f"Member must have value greater than or equal to {minimum}")
        if maximum is not None and value > maximum:
            raise invalid(path, value, f"Member must have value less than or equal to {maximum}")
        return value

    def enum(self, value: Any, path: str, *, required: bool = False) -> str | None:
        if value is None:
            if required:
                raise invalid(path, None, "Member must not be null")
            return None
        allowed = input_member(self.service, self.operation, path).enum
        if value not in allowed:
            raise invalid(path, value, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
        return value

    def string_list(self, value: Any, path: str) -> list[str] | None:
        if value is None:
            return None
        if not isinstance(value, list):
            raise invalid(path, value, "Member must be a list")
        constraints = self._constraints(path)
        min_items, max_items = constraints.get("min", 0), constraints.get("max")
        if len(value) < min_items or (max_items is not None and len(value) > max_items):
            raise invalid(
                path, value, f"Member must have length between {min_items} and {max_items}, inclusive"
            )
        for index, item in enumerate(value):
            self.string(item, f"{path}.{index + 1}.member")
        return value
