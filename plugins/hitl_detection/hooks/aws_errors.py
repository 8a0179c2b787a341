"""Reading AWS error answers: what "not found" looks like, and which faults pass by themselves."""

from __future__ import annotations

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

# What SageMaker answers when a model, endpoint config or endpoint is not there (any more).
_NOT_FOUND_MESSAGES = ("could not find", "not found", "does not exist")
_THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"}
)


def is_not_found(error: ClientError) -> bool:
    """SageMaker says "not found" in a ValidationException."""
    message = error.response.get("Error", {}).get("Message", "").lower()
    return error.response.get("Error", {}).get("Code") == "ValidationException" and any(
        text in message for text in _NOT_FOUND_MESSAGES
    )


def is_missing_object(error: ClientError) -> bool:
    """S3 has no such object (GetObject answers NoSuchKey, HeadObject a bare 404)."""
    return error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404")


def is_transient(error: BaseException) -> bool:
    """Throttling, a 5xx answer or a broken connection: worth trying again later."""
    if isinstance(error, ConnectionError | HTTPClientError):
        return True
    if not isinstance(error, ClientError):
        return False
    code = error.response.get("Error", {}).get("Code", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code in _THROTTLING_CODES or status >= 500
