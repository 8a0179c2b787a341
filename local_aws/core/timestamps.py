"""Time in the shapes the wire protocols use: ISO 8601 for rest-json, epoch seconds for JSON 1.1."""

from datetime import UTC, datetime

from local_aws.core.errors import ApiError


def utc_now() -> datetime:
    """Now, truncated to the millisecond precision the APIs return, so filters and answers agree."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def to_iso(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def to_epoch(moment: datetime) -> float:
    return round(moment.timestamp(), 3)


def parse_iso(value: str, path: str) -> datetime:
    """Parse a query-string timestamp as botocore sends it (`2020-02-24T10:00:00Z`, or a bare date)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(
            "ValidationException", f"Value '{value}' at '{path}' is not an ISO 8601 timestamp"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_epoch(value: float | int, path: str) -> datetime:
    """Parse a JSON 1.1 timestamp (epoch seconds)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError("ValidationException", f"Value '{value}' at '{path}' is not a timestamp")
    return datetime.fromtimestamp(value, UTC)
