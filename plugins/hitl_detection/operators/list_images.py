"""List a run's images into shard files, before anything is deployed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from hitl_detection.domain.run_plan import SHARD_SIZE
from hitl_detection.domain.s3_uri import join_s3_uri
from hitl_detection.domain.stage_rows import ImageRow
from hitl_detection.domain.streams import chunked
from hitl_detection.hooks.image_listing import image_keys
from hitl_detection.operators.base import RunOperator


class ListImagesOperator(RunOperator):
    """Write the run's images, in key order, as shard files; return `{"images": n, "shards": k}`.

    With `modified_after`/`modified_before` (a scheduled run's data interval) only the images
    that arrived in that interval are taken, so consecutive runs never take an image twice; an
    interval with no new image skips this task, and with it the rest of the run: nothing is
    deployed. For a run triggered by hand, an empty prefix is an error, raised before an endpoint
    is paid for.
    """

    template_fields: Sequence[str] = aws_template_fields("plan", "modified_after", "modified_before")

    def __init__(
        self,
        *,
        modified_after: datetime | str | None = None,
        modified_before: datetime | str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.modified_after = modified_after
        self.modified_before = modified_before

    def execute(self, context: Context) -> dict[str, int]:
        config = self.run_plan.config
        source = config.input_s3_uri
        keys = image_keys(
            self.hook.conn,
            config.input_bucket,
            config.input_prefix,
            limit=config.max_images,
            modified_after=self.modified_after,
            modified_before=self.modified_before,
        )
        rows = (ImageRow(key=key, s3_uri=join_s3_uri(config.input_bucket, key)) for key in keys)
        files = self.stage_files
        earlier = set(files.shards("images"))
        images = shards = 0
        changed: set[int] = set()
        for shard, chunk in enumerate(chunked(rows, SHARD_SIZE)):
            images += len(chunk)
            shards = shard + 1
            if shard in earlier and list(files.read_rows("images", shard)) == chunk:
                continue  # an earlier try listed the same images: what later stages wrote holds
            files.write_rows("images", shard, chunk)
            changed.add(shard)
        self._forget(earlier, changed, shards)
        if not images:
            if self._incremental:
                raise AirflowSkipException(
                    f"No image arrived under {source} between {self.modified_after} and "
                    f"{self.modified_before}: nothing to do."
                )
            raise AirflowFailException(f"input_s3_uri {source} holds no images (.jpg, .jpeg, .png)")
        self.log.info(
            "%d images under %s, in %d shard files of up to %d.", images, source, shards, SHARD_SIZE
        )
        return {"images": images, "shards": shards}

    def _forget(self, earlier: set[int], changed: set[int], shards: int) -> None:
        """A cleared run that lists other images than its earlier try: the later stages' files of
        the shards that changed, and every file of shards that are gone, must not be taken for
        this listing's work."""
        gone = {shard for shard in earlier if shard >= shards}
        stale = (changed & earlier) | gone
        if not stale:
            return
        self.log.warning(
            "The images differ from an earlier try's in %d shards: their detections, reviews and records "
            "are done again.",
            len(stale),
        )
        self.stage_files.delete(("detections", "reviews", "records"), stale)
        self.stage_files.delete(("images",), gone)

    @property
    def _incremental(self) -> bool:
        return self.modified_after is not None or self.modified_before is not None
