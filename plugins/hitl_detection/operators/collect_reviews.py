"""Collect the reviewers' answers and write one result record per image."""

from __future__ import annotations

from collections import Counter
from typing import Any

from airflow.sdk import Context

from hitl_detection.domain.consolidation import consolidate_answers
from hitl_detection.domain.records import accepted_record, error_record, review_failed_record, reviewed_record
from hitl_detection.domain.stage_rows import ImageRow
from hitl_detection.domain.streams import ordered_map
from hitl_detection.operators.base import RunOperator
from hitl_detection.review.base import ReviewBackend


class CollectReviewsOperator(RunOperator):
    """Merge each reviewed image's answers (several reviewers by IoU) into its record.

    Images that needed no review get their accepted model boxes; a failed review or unreadable
    answer gives `review_failed` with the model's boxes, so nothing is lost and the run goes on.
    Answers are read several at once; records are written per shard.
    """

    def execute(self, context: Context) -> dict[str, int]:
        files = self.stage_files
        backend = self.review_backend()
        counts: Counter[str] = Counter()
        for shard in files.shards("reviews"):
            rows = files.read_rows("reviews", shard)
            records = list(
                ordered_map(lambda row: self._record(backend, row), rows, workers=backend.parallel_calls)
            )
            counts.update(record["status"] for record in records)
            files.write("records", shard, records)
        self.log.info("Records: %s", dict(counts))
        return dict(counts)

    def _record(self, backend: ReviewBackend, row: ImageRow) -> dict[str, Any]:
        if row.error:
            return error_record(row.s3_uri, row.error)
        decision = row.decision
        if not decision.needs_review:
            return accepted_record(row.s3_uri, decision, row.size)
        if row.ticket is None:
            review = {"backend": backend.name, "task": None}
            return review_failed_record(row.s3_uri, decision, review, "no review task was started", row.size)
        outcome = backend.collect(row.ticket)
        if outcome.failed:
            self.log.warning("Review of %s failed: %s", row.s3_uri, outcome.error)
            return review_failed_record(row.s3_uri, decision, outcome.review, outcome.error, row.size)
        final = consolidate_answers([answer.boxes for answer in outcome.answers])
        return reviewed_record(row.s3_uri, decision, final, outcome.review, row.size)
