"""The one error type every emulated operation raises; each protocol renders it in its own wire shape."""

from typing import Any


class ApiError(Exception):
    """An AWS error: `code` is what botocore reports as `Error.Code`, `fields` any extra modeled members."""

    def __init__(self, code: str, message: str, status: int = 400, **fields: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.fields = fields
