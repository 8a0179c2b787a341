"""Start a review task for every image of one batch that the gate sent to review."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Context

from hitl_detection.jsonl_store import read_jsonl, write_jsonl
from hitl_detection.naming import human_loop_name
from hitl_detection.operators.run_batch import RunBatchOperator
from hitl_detection.review.backends import get_review_backend
from hitl_detection.review.base import ReviewRequest, ReviewTicket
from hitl_detection.work_rows import decision_from_dict


class StartReviewsOperator(RunBatchOperator):
    """Start (or find again) the review task of each image of a batch that needs review.

    Task names come from the run and the image, and the backend finds a task it started before,
    so a retried or cleared task never starts a second one for an image. The tickets go to the
    batch's `reviews` file; XCom gets counts and the earliest creation time, where the wait for
    the run's reviews starts looking.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        layout = self.layout
        config = self.plan["config"]
        backend = get_review_backend(
            config["review_backend"],
            flow_definition_arn=config["flow_definition_arn"],
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            botocore_config=self.botocore_config,
        )
        # Read the batch before starting anything: starting may wait out throttling for minutes,
        # longer than S3 keeps an idle download open.
        rows = [
            row
            for row in read_jsonl(self.hook, layout.bucket, layout.batch_key("decisions", self.batch))
            if not row["error"] and row["decision"]["needs_review"]
        ]
        tickets: list[tuple[str, ReviewTicket]] = []
        for row in rows:
            decision = decision_from_dict(row["decision"])
            request = ReviewRequest(
                task_name=human_loop_name(self.plan["run_id"], row["image_key"]),
                image_s3_uri=row["image_s3_uri"],
                labels=tuple(config["labels"]),
                initial_boxes=decision.accepted,
                uncertain_boxes=decision.uncertain,
            )
            try:
                tickets.append((row["image_key"], backend.start(request)))
            except Exception:
                self.log.error(
                    "Starting review %d of %d (%s) failed; a retry finds the %d started before it.",
                    len(tickets) + 1,
                    len(rows),
                    request.task_name,
                    len(tickets),
                )
                raise
        write_jsonl(
            self.hook,
            layout.bucket,
            layout.batch_key("reviews", self.batch),
            ({"image_key": key, "ticket": ticket.to_dict()} for key, ticket in tickets),
        )
        reused = sum(ticket.reused for _, ticket in tickets)
        earliest = min((datetime.fromisoformat(ticket.created_at) for _, ticket in tickets), default=None)
        self.log.info(
            "Batch %d: %d review tasks started, %d found from an earlier try.",
            self.batch,
            len(tickets) - reused,
            reused,
        )
        return {
            "batch": self.batch,
            "started": len(tickets) - reused,
            "reused": reused,
            "earliest_created": earliest.isoformat() if earliest else None,
        }
