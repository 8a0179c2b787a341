"""The images under an S3 prefix, in key order, optionally only those that arrived in a window.

`list_images` writes them as the run's shard files; `plan_run` counts them when the run's
inference is `auto`, which is decided by their number.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from hitl_detection.domain.images import is_image_key


def image_keys(
    s3: Any,
    bucket: str,
    prefix: str,
    *,
    limit: int | None = None,
    modified_after: datetime | str | None = None,
    modified_before: datetime | str | None = None,
) -> Iterator[str]:
    """Keys of `.jpg`, `.jpeg` and `.png` objects (at most `limit`), through a boto3 S3 client;
    with the window, only objects last modified in [modified_after, modified_before)."""
    after, before = as_datetime(modified_after), as_datetime(modified_before)
    taken = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            modified = item["LastModified"]
            if not is_image_key(item["Key"]):
                continue
            if (after is not None and modified < after) or (before is not None and modified >= before):
                continue
            yield item["Key"]
            taken += 1
            if limit is not None and taken >= limit:
                return


def as_datetime(value: datetime | str | None) -> datetime | None:
    """Templates render to strings: take an aware datetime or its ISO text."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no time zone; expected an aware timestamp")
    return parsed
