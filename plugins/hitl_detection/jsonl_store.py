"""JSON-lines files in S3: how the tasks of a run hand per-image data to each other.

XCom carries keys and counts only; the per-image data (predictions, decisions, tickets, records)
goes through these files, read as a stream so that memory does not grow with a batch's size.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook


def write_jsonl(s3: S3Hook, bucket: str, key: str, rows: Iterable[dict]) -> int:
    """Write (or overwrite, on a retry) one file; returns the number of rows."""
    lines = [json.dumps(row, sort_keys=True, separators=(",", ":")) for row in rows]
    data = ("\n".join(lines) + "\n" if lines else "").encode()
    s3.load_bytes(data, key=key, bucket_name=bucket, replace=True)
    return len(lines)


def read_jsonl(s3: S3Hook, bucket: str, key: str) -> Iterator[dict]:
    body = s3.conn.get_object(Bucket=bucket, Key=key)["Body"]  # get_key would HEAD it first
    for line in body.iter_lines():
        if line.strip():
            yield json.loads(line)
