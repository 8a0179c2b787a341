"""Reading SageMaker's error answers, which say "not found" in a ValidationException."""

from __future__ import annotations

from botocore.exceptions import ClientError

# What SageMaker answers when a model, endpoint config or endpoint is not there (any more).
_NOT_FOUND_MESSAGES = ("could not find", "not found", "does not exist")


def is_not_found(error: ClientError) -> bool:
    message = error.response.get("Error", {}).get("Message", "").lower()
    return error.response.get("Error", {}).get("Code") == "ValidationException" and any(
        text in message for text in _NOT_FOUND_MESSAGES
    )
