"""Server-side checks of request members against the constraints in botocore's service models.

botocore validates types, required members and minimums on the client; patterns, maximums and
cross-field rules are the service's job, so the emulator checks them and answers the way AWS does:
`ValidationException: 1 validation error detected: Value '...' at 'Field' failed to satisfy ...`.
"""

import re
from typing import Any

from local_aws.errors import ApiError

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


def structure(value: Any, path: str, *, required: bool = True) -> dict | None:
    if value is None:
        if required:
            raise invalid(path, None, "Member must not be null")
        return None
    if not isinstance(value, dict):
        raise invalid(path, value, "Member must be a structure")
    return value


def string(
    value: Any,
    path: str,
    *,
    required: bool = True,
    min_len: int = 0,
    max_len: int | None = None,
    pattern: str | None = None,
) -> str | None:
    if value is None:
        if required:
            raise invalid(path, None, "Member must not be null")
        return None
    if not isinstance(value, str):
        raise invalid(path, value, "Member must be a string")
    if len(value) < min_len:
        raise invalid(path, value, f"Member must have length greater than or equal to {min_len}")
    if max_len is not None and len(value) > max_len:
        raise invalid(path, value, f"Member must have length less than or equal to {max_len}")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise invalid(path, value, f"Member must satisfy regular expression pattern: {pattern}")
    return value


def integer(
    value: Any,
    path: str,
    *,
    required: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    if value is None:
        if required:
            raise invalid(path, None, "Member must not be null")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(path, value, "Member must be an integer")
    if minimum is not None and value < minimum:
        raise invalid(path, value, f"Member must have value greater than or equal to {minimum}")
    if maximum is not None and value > maximum:
        raise invalid(path, value, f"Member must have value less than or equal to {maximum}")
    return value


def enum(value: Any, path: str, allowed: tuple[str, ...], *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise invalid(path, None, "Member must not be null")
        return None
    if value not in allowed:
        raise invalid(path, value, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
    return value


def string_list(
    value: Any, path: str, *, min_items: int = 0, max_items: int, **item_rules: Any
) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise invalid(path, value, "Member must be a list")
    if not min_items <= len(value) <= max_items:
        raise invalid(path, value, f"Member must have length between {min_items} and {max_items}, inclusive")
    for index, item in enumerate(value):
        string(item, f"{path}.{index + 1}.member", **item_rules)
    return value
