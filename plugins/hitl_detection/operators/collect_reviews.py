"""Collect the reviewers' answers for one batch and write its result records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import Context

from hitl_detection.consolidation import consolidate_answers
from hitl_detection.jsonl_store import read_jsonl, write_jsonl
from hitl_detection.operators.run_batch import RunBatchOperator
from hitl_detection.records import accepted_record, error_record, review_failed_record, reviewed_record
from hitl_detection.review.backends import get_review_backend
from hitl_detection.review.base import ReviewOutcome, ReviewTicket
from hitl_detection.work_rows import decision_from_dict, size_from_record


class CollectReviewsOperator(RunBatchOperator):
    """Merge each reviewed image's answers (several reviewers by IoU) and write one record per image.

    Images that needed no review get their accepted model boxes; a failed review or unreadable
    answer gives `review_failed` with the model's boxes, so nothing is lost and the run goes on.
    """

    def execute(self, context: Context) -> dict[str, int]:
        layout = self.layout
        tickets = {
            row["image_key"]: ReviewTicket.from_dict(row["ticket"])
            for row in read_jsonl(self.hook, layout.bucket, layout.batch_key("reviews", self.batch))
        }
        outcomes: dict[str, ReviewOutcome] = {}
        if tickets:
            backend = get_review_backend(
                self.plan["config"]["review_backend"],
                flow_definition_arn=self.plan["config"]["flow_definition_arn"],
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
            )
            outcomes = {outcome.task_name: outcome for outcome in backend.collect(tickets.values())}
        counts = {"batch": self.batch, "accepted": 0, "reviewed": 0, "review_failed": 0, "error": 0}

        def records(decisions):
            for row in decisions:
                record = self._record(row, tickets.get(row["image_key"]), outcomes)
                counts[record["status"]] += 1
                yield record

        decisions = read_jsonl(self.hook, layout.bucket, layout.batch_key("decisions", self.batch))
        write_jsonl(self.hook, layout.bucket, layout.batch_key("records", self.batch), records(decisions))
        self.log.info("Batch %d records: %s", self.batch, counts)
        return counts

    def _record(
        self, row: Mapping[str, Any], ticket: ReviewTicket | None, outcomes: Mapping[str, ReviewOutcome]
    ) -> dict[str, Any]:
        uri = row["image_s3_uri"]
        if row["error"]:
            return error_record(uri, row["error"])
        decision = decision_from_dict(row["decision"])
        size = size_from_record(row["image_size"])
        if not decision.needs_review:
            return accepted_record(uri, decision, size)
        outcome = outcomes.get(ticket.task_name) if ticket else None
        if outcome is None:
            review = {"backend": self.plan["config"]["review_backend"], "task": None}
            return review_failed_record(
                uri, decision, review, "no review task was started for this image", size
            )
        if outcome.failed:
            self.log.warning("Review of %s failed: %s", uri, outcome.error)
            return review_failed_record(uri, decision, outcome.review, outcome.error, size)
        final = consolidate_answers([answer.boxes for answer in outcome.answers])
        return reviewed_record(uri, decision, final, outcome.review, size)
