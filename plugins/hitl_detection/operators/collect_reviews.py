"""Collect the reviewers' answers and write one result record per image."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from airflow.sdk import Context

from hitl_detection.domain.answer_checks import check_answers
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
    Answers are checked against the run's labels and the stored image before they are merged
    (`answer_checks`: refused answers, dropped and clipped boxes go under the record's review).
    Answers are read several at once; records are written per shard.

    :param waited: `wait_for_reviews`' result. When the wait reached its deadline, a task still
        open is ended where the backend can (`ReviewBackend.end_open`) and its image is
        `review_failed`, saying so; an answer given since the deadline is collected as any other.
    """

    template_fields: Sequence[str] = (*RunOperator.template_fields, "waited")

    def __init__(self, *, waited: Mapping[str, Any] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.waited = waited

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
        # A review also says how the model's boxes it started from were made.
        inference = {"inference": self.run_plan.inference}
        if row.ticket is None:
            review = {"backend": backend.name, "task": None, **inference}
            return review_failed_record(row.s3_uri, decision, review, "no review task was started", row.size)
        outcome = backend.collect(row.ticket)
        deadline = (self.waited or {}).get("deadline_reached")
        if outcome.still_open and deadline:
            why = f"the wait for the reviews reached its deadline ({deadline['at']}) first"
            outcome = replace(outcome, error=f"{why}: {backend.end_open(row.ticket)}")
        review = {**outcome.review, **inference}
        if outcome.failed:
            self.log.warning("Review of %s failed: %s", row.s3_uri, outcome.error)
            return review_failed_record(row.s3_uri, decision, review, outcome.error, row.size)
        checked = check_answers(outcome.answers, self.run_plan.config.labels, row.size)
        review["answer_checks"] = checked.to_record()
        if checked.refused or checked.dropped or checked.clipped:
            self.log.warning("Answers for %s were corrected: %s", row.s3_uri, review["answer_checks"])
        if not checked.answers:
            return review_failed_record(row.s3_uri, decision, review, checked.why_none, row.size)
        final = consolidate_answers([answer.boxes for answer in checked.answers])
        return reviewed_record(row.s3_uri, decision, final, review, row.size)
