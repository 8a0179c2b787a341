"""Start a review task for every image the gate sent to review."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import groupby
from operator import itemgetter
from typing import Any

from airflow.sdk import Context

from hitl_detection.domain.review_tasks import ReviewRequest
from hitl_detection.domain.stage_rows import ImageRow
from hitl_detection.domain.streams import ordered_map
from hitl_detection.operators.base import RunOperator
from hitl_detection.review.base import ReviewBackend

# The wait looks for the run's tasks created since the run was due or started, less this margin,
# so that clocks a little apart never hide a task.
CLOCK_MARGIN = timedelta(minutes=5)


class StartReviewsOperator(RunOperator):
    """Start (or find again) the review task of each image that needs review, several at once.

    The backend names each task after the run and the image and finds a task it started before,
    so a retried or cleared task never starts a second one for an image. Rows, now with their
    tickets, are written per shard; a retry skips the shards an earlier try wrote. Returns counts
    and the backend's progress scope, which the wait for the reviews takes.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        plan, files = self.run_plan, self.stage_files
        backend = self.review_backend()
        done = files.shards("reviews")
        counts: Counter[str] = Counter()
        for shard in done:  # what an earlier try started still has to be waited for
            counts["reused"] += sum(row.ticket is not None for row in files.read_rows("reviews", shard))
        todo = [shard for shard in files.shards("detections") if shard not in set(done)]
        rows = ((shard, row) for shard in todo for row in files.read_rows("detections", shard))
        results = ordered_map(
            lambda item: (item[0], self._start(backend, item[1])), rows, workers=backend.parallel_calls
        )
        for shard, group in groupby(results, key=itemgetter(0)):
            reviewed = [row for _, row in group]
            for row in reviewed:
                if row.ticket is not None:
                    counts["reused" if row.ticket.reused else "started"] += 1
            files.write_rows("reviews", shard, reviewed)
        self.log.info(
            "%d review tasks started, %d found from an earlier try (%d shards written before).",
            counts["started"],
            counts["reused"],
            len(done),
        )
        # No task of this run (any try, or before the run was cleared) is older than the run; a run
        # made for a later time (a test, a backfill) is older than that time.
        run = context["dag_run"]
        started_after = min(filter(None, (run.run_after, run.start_date, datetime.now(UTC)))) - CLOCK_MARGIN
        return {
            "started": counts["started"],
            "reused": counts["reused"],
            "scope": backend.progress_scope(plan.run_key, started_after),
        }

    def _start(self, backend: ReviewBackend, row: ImageRow) -> ImageRow:
        if not row.needs_review:
            return row
        request = ReviewRequest(
            run_key=self.run_plan.run_key,
            image_key=row.key,
            image_s3_uri=row.s3_uri,
            image_size=row.size,
            labels=self.run_plan.config.labels,
            initial_boxes=row.decision.accepted,
            uncertain_boxes=row.decision.uncertain,
        )
        try:
            return row.with_ticket(backend.start(request))
        except Exception:
            self.log.error(
                "Starting the review of %s failed; a retry finds the tasks started before it.", row.s3_uri
            )
            raise
