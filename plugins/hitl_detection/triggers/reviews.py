"""Wait in the triggerer until every review task of a run is finished, holding no worker slot.

The backend's progress() is a blocking call, so it runs in a thread. The deadline is kept here so
that a timeout can name the tasks still pending, which Airflow's own deferral timeout cannot; and
a check that fails for a passing reason (throttling, an outage) is retried at the next poll, for
as long as the deadline allows, since people's answers are worth waiting out an outage for.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from hitl_detection.review.base import Connections
from hitl_detection.review.factory import build_review_backend


class ReviewsTrigger(BaseTrigger):
    """Poll the backend's progress every `poll_interval` seconds until done or `deadline` (ISO, UTC).

    `review` is the backend and its settings (`review_settings`), `connections` the task's
    connection settings (`Connections.to_json`), `scope` the backend's progress scope.
    Events: `{"status": "success", "finished", "failed"}`, `{"status": "timeout", "message",
    "pending"}` or `{"status": "error", "message"}`.
    """

    def __init__(
        self,
        *,
        review: dict[str, Any],
        connections: dict[str, Any],
        scope: dict[str, Any],
        expected: int,
        deadline: str,
        poll_interval: float,
    ) -> None:
        super().__init__()
        self.review = review
        self.connections = connections
        self.scope = scope
        self.expected = expected
        self.deadline = deadline
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "review": self.review,
                "connections": self.connections,
                "scope": self.scope,
                "expected": self.expected,
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            backend = build_review_backend(self.review, Connections.from_json(self.connections))
        except Exception as error:
            yield TriggerEvent({"status": "error", "message": f"{type(error).__name__}: {error}"})
            return
        deadline = datetime.fromisoformat(self.deadline)
        progress = None
        while True:
            try:
                progress = await asyncio.to_thread(backend.progress, self.scope, self.expected)
            except Exception as error:
                if not backend.is_transient(error):
                    self.log.exception("Watching the reviews failed")
                    yield TriggerEvent({"status": "error", "message": f"{type(error).__name__}: {error}"})
                    return
                self.log.warning(
                    "Checking the reviews failed for a passing reason (%s); checking again.", error
                )
            else:
                if progress.done:
                    yield TriggerEvent(
                        {"status": "success", "finished": progress.finished, "failed": list(progress.failed)}
                    )
                    return
                self.log.info("%s", progress.describe())
            remaining = (deadline - datetime.now(UTC)).total_seconds()
            if remaining <= 0:
                state = progress.describe() if progress else "no check succeeded"
                yield TriggerEvent(
                    {
                        "status": "timeout",
                        "message": f"Reviews not finished by {self.deadline}: {state}",
                        "pending": list(progress.pending) if progress else [],
                    }
                )
                return
            await asyncio.sleep(min(self.poll_interval, remaining))
