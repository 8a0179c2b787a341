"""Wait in the triggerer until every review task of a run is finished, holding no worker slot.

The backend's progress() is a blocking call (boto3), so it runs in a thread; the deadline is kept
here so that a timeout can name the tasks still pending, which Airflow's own deferral timeout
cannot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from hitl_detection.review.backends import get_review_backend
from hitl_detection.review.base import ReviewProgress


def progress_text(progress: ReviewProgress) -> str:
    """`3 of 10 review tasks finished (1 failed); 7 pending: a, b and 5 more`."""
    text = f"{progress.finished} of {progress.expected} review tasks finished ({len(progress.failed)} failed)"
    waiting = progress.expected - progress.finished
    if waiting <= 0:
        return text
    more = waiting - len(progress.pending)
    names = ", ".join(progress.pending) or "none listed yet"
    return f"{text}; {waiting} pending: {names}" + (f" and {more} more" if more > 0 else "")


class ReviewsTrigger(BaseTrigger):
    """Poll the backend's progress every `poll_interval` seconds until done or `deadline` (ISO, UTC).

    Events: `{"status": "success", "finished", "failed"}`, `{"status": "timeout", "message",
    "pending"}` or `{"status": "error", "message"}`.
    """

    def __init__(
        self,
        *,
        review_backend: str,
        flow_definition_arn: str | None,
        scope: dict[str, Any],
        expected: int,
        deadline: str,
        poll_interval: float,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.review_backend = review_backend
        self.flow_definition_arn = flow_definition_arn
        self.scope = scope
        self.expected = expected
        self.deadline = deadline
        self.poll_interval = poll_interval
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "review_backend": self.review_backend,
                "flow_definition_arn": self.flow_definition_arn,
                "scope": self.scope,
                "expected": self.expected,
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            backend = get_review_backend(
                self.review_backend,
                flow_definition_arn=self.flow_definition_arn,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
            )
            deadline = datetime.fromisoformat(self.deadline)
            while True:
                progress = await asyncio.to_thread(backend.progress, self.scope, self.expected)
                if progress.done:
                    yield TriggerEvent(
                        {"status": "success", "finished": progress.finished, "failed": list(progress.failed)}
                    )
                    return
                remaining = (deadline - datetime.now(UTC)).total_seconds()
                if remaining <= 0:
                    yield TriggerEvent(
                        {
                            "status": "timeout",
                            "message": f"Reviews not finished by {self.deadline}: {progress_text(progress)}",
                            "pending": list(progress.pending),
                        }
                    )
                    return
                self.log.info("%s", progress_text(progress))
                await asyncio.sleep(min(self.poll_interval, remaining))
        except Exception as error:
            self.log.exception("Watching the reviews failed")
            yield TriggerEvent({"status": "error", "message": f"{type(error).__name__}: {error}"})
