"""What the wait for a run's reviews sees each poll: the backend's sweep, and the tasks that vanished.

A task someone deleted (an A2I loop stopped and deleted, a Label Studio task removed) is missing
from every sweep for good, so a wait that counted the sweep alone would never end, and the
answers of the other tasks would never be published. When a sweep lists fewer of the run's tasks
than were started, and the wait is older than `missing_grace` (a listing may lag behind a start),
the run's tickets are read from its stage files and the backend says which no longer exist; those
count as finished without an answer, and their images become `review_failed`. A wait on N tasks
still costs a sweep a poll: the extra look happens only while the sweep is short, and costs a
call per missing task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from hitl_detection.domain.review_tasks import ReviewProgress, ReviewTicket
from hitl_detection.domain.run_plan import RunPlan
from hitl_detection.hooks.stage_files import StageFiles
from hitl_detection.review.base import Connections, ReviewBackend

log = logging.getLogger(__name__)

REVIEWS_STAGE = "reviews"  # the stage files start_reviews writes, with each image's ticket


def run_tickets(plan: Mapping[str, Any], connections: Connections) -> Iterator[ReviewTicket]:
    """The tickets of the run's review tasks, read shard by shard from its stage files."""
    files = StageFiles(S3Hook(**connections.aws_hook_kwargs()), RunPlan.from_xcom(plan).layout)
    for shard in files.shards(REVIEWS_STAGE):
        for row in files.read_rows(REVIEWS_STAGE, shard):
            if row.ticket is not None:
                yield row.ticket


class ReviewWatch:
    """Checks a run's reviews; remembers the tasks found deleted, so they are looked for once."""

    def __init__(
        self,
        backend: ReviewBackend,
        scope: Mapping[str, Any],
        expected: int,
        tickets: Callable[[], Iterable[ReviewTicket]],
        missing_after: datetime,
    ) -> None:
        """`tickets` gives the run's tickets; tasks missing from a sweep are looked for only from
        `missing_after` on."""
        self.backend = backend
        self.scope = scope
        self.expected = expected
        self.tickets = tickets
        self.missing_after = missing_after
        self._deleted: list[str] = []

    def check(self) -> ReviewProgress:
        progress = self.backend.progress(self.scope, self.expected)
        if progress.unlisted > len(self._deleted) and datetime.now(UTC) >= self.missing_after:
            deleted = self.backend.deleted(self.scope, self.tickets())
            if deleted != self._deleted:
                log.warning(
                    "%d review tasks were deleted before they finished; their images become "
                    "review_failed: %s",
                    len(deleted),
                    ", ".join(deleted),
                )
            self._deleted = deleted
        return progress.with_deleted(self._deleted)
