"""A run's stage files in S3: JSON lines, one file per stage and shard of images.

XCom carries counts only; the per-image rows (and the result records) go through these files,
read as a stream so that memory does not grow with a run's size.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from hitl_detection.domain.run_plan import RunLayout
from hitl_detection.domain.stage_rows import ImageRow

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook


class StageFiles:
    def __init__(self, s3: S3Hook, layout: RunLayout) -> None:
        self.s3 = s3
        self.layout = layout

    def shards(self, stage: str) -> list[int]:
        """The shard numbers of the stage's files that exist, in order (one list call per 1,000)."""
        pages = self.s3.conn.get_paginator("list_objects_v2").paginate(
            Bucket=self.layout.bucket, Prefix=self.layout.stage_prefix(stage)
        )
        found = (
            self.layout.shard_of(stage, item["Key"]) for page in pages for item in page.get("Contents", ())
        )
        return sorted(shard for shard in found if shard is not None)

    def delete(self, stages: Iterable[str], shards: Iterable[int]) -> None:
        """Remove these shards' files of these stages (up to 1,000 a call); missing ones are fine."""
        keys = [{"Key": self.layout.shard_key(stage, shard)} for stage in stages for shard in shards]
        for start in range(0, len(keys), 1000):
            self.s3.conn.delete_objects(
                Bucket=self.layout.bucket, Delete={"Objects": keys[start : start + 1000], "Quiet": True}
            )

    def write_rows(self, stage: str, shard: int, rows: Iterable[ImageRow]) -> int:
        return self.write(stage, shard, (row.to_json() for row in rows))

    def read_rows(self, stage: str, shard: int) -> Iterator[ImageRow]:
        return (ImageRow.from_json(line) for line in self.read(stage, shard))

    def write(self, stage: str, shard: int, documents: Iterable[dict[str, Any]]) -> int:
        """Write (or overwrite, on a retry) one shard file; returns the number of lines."""
        lines = [json.dumps(document, sort_keys=True, separators=(",", ":")) for document in documents]
        data = ("\n".join(lines) + "\n" if lines else "").encode()
        self.s3.load_bytes(
            data, key=self.layout.shard_key(stage, shard), bucket_name=self.layout.bucket, replace=True
        )
        return len(lines)

    def read(self, stage: str, shard: int) -> Iterator[dict[str, Any]]:
        # One GetObject: S3Hook.get_key would send a HeadObject first.
        body = self.s3.conn.get_object(Bucket=self.layout.bucket, Key=self.layout.shard_key(stage, shard))[
            "Body"
        ]
        for line in body.iter_lines():
            if line.strip():
                yield json.loads(line)
