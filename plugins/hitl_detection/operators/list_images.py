"""List a run's images and split them into batches, before anything is deployed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from hitl_detection.images import is_image_key
from hitl_detection.jsonl_store import write_jsonl
from hitl_detection.run_layout import RunLayout
from hitl_detection.s3_uri import join_s3_uri
from hitl_detection.work_rows import image_row

DEFAULT_BATCH_SIZE = 25


class ListImagesOperator(AwsBaseOperator[S3Hook]):
    """Write the run's images, in key order, as batch files; return the batch numbers.

    The number of downstream task instances grows with images / batch_size, never with images.
    With `modified_after`/`modified_before` (a scheduled run's data interval) only the images
    that arrived in that interval are taken, so consecutive runs never take an image twice; an
    interval with no new image gives no batch, and the run's work is skipped. For a run
    triggered by hand, an empty prefix is an error, raised before an endpoint is paid for.
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("plan", "modified_after", "modified_before")

    def __init__(
        self,
        *,
        plan: Mapping[str, Any],
        batch_size: int = DEFAULT_BATCH_SIZE,
        modified_after: datetime | None = None,
        modified_before: datetime | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size} is below 1")
        self.plan = plan
        self.batch_size = batch_size
        self.modified_after = modified_after
        self.modified_before = modified_before

    def execute(self, context: Context) -> list[int]:
        config = self.plan["config"]
        layout = RunLayout(**self.plan["layout"])
        source = join_s3_uri(config["input_bucket"], config["input_prefix"])
        batch: list[dict] = []
        batches = images = 0
        for key in self._image_keys(config["input_bucket"], config["input_prefix"], config["max_images"]):
            batch.append(image_row(key, join_s3_uri(config["input_bucket"], key)))
            images += 1
            if len(batch) == self.batch_size:
                write_jsonl(self.hook, layout.bucket, layout.batch_key("images", batches), batch)
                batches, batch = batches + 1, []
        if batch:
            write_jsonl(self.hook, layout.bucket, layout.batch_key("images", batches), batch)
            batches += 1
        if not images:
            if self._incremental:
                self.log.info(
                    "No image arrived under %s between %s and %s: nothing to do.",
                    source,
                    self.modified_after,
                    self.modified_before,
                )
                return []
            raise AirflowFailException(f"input_s3_uri {source} holds no images (.jpg, .jpeg, .png)")
        self.log.info(
            "%d images under %s in %d batches of up to %d.", images, source, batches, self.batch_size
        )
        return list(range(batches))

    @property
    def _incremental(self) -> bool:
        return self.modified_after is not None or self.modified_before is not None

    def _image_keys(self, bucket: str, prefix: str, limit: int | None) -> Iterator[str]:
        paginator = self.hook.conn.get_paginator("list_objects_v2")
        taken = 0
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", ()):
                if not is_image_key(item["Key"]) or not self._in_interval(item["LastModified"]):
                    continue
                yield item["Key"]
                taken += 1
                if limit is not None and taken >= limit:
                    return

    def _in_interval(self, modified: datetime) -> bool:
        after, before = _as_datetime(self.modified_after), _as_datetime(self.modified_before)
        if after is not None and modified < after:
            return False
        return before is None or modified < before


def _as_datetime(value: datetime | str | None) -> datetime | None:
    """Templates render to strings: take an aware datetime or its ISO text."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time {value!r} has no time zone; expected an aware timestamp")
    return parsed
