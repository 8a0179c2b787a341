"""Wait in the triggerer until every review task of a run is finished, holding no worker slot.

Each check (the backend's sweep, and a look for deleted tasks while the sweep is short: see
`review.watch`) is blocking, so it runs in a thread. The deadline is kept here so that a timeout
can name the tasks still pending, which Airflow's own deferral timeout cannot; and a check that
fails for a passing reason (throttling, an outage) is retried at the next poll, for as long as the
deadline allows, since people's answers are worth waiting out an outage for.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from hitl_detection.review.base import Connections
from hitl_detection.review.factory import build_review_backend
from hitl_detection.review.watch import ReviewWatch, run_tickets


class ReviewsTrigger(BaseTrigger):
    """Poll the backend's progress every `poll_interval` seconds until done or `deadline` (ISO, UTC).

    `review` is the backend and its settings (`review_settings`), `connections` the task's
    connection settings (`Connections.to_json`), `plan` the run's plan (where its tickets are),
    `scope` the backend's progress scope; tasks missing from a sweep are looked for as deleted
    from `missing_after` (ISO, UTC) on.
    Events: `{"status": "success", "finished", "failed"}`, `{"status": "timeout", "message",
    "deadline", "failed", "pending"}` or `{"status": "error", "message"}`.
    """

    def __init__(
        self,
        *,
        review: dict[str, Any],
        connections: dict[str, Any],
        plan: dict[str, Any],
        scope: dict[str, Any],
        expected: int,
        deadline: str,
        missing_after: str,
        poll_interval: float,
    ) -> None:
        super().__init__()
        self.review = review
        self.connections = connections
        self.plan = plan
        self.scope = scope
        self.expected = expected
        self.deadline = deadline
        self.missing_after = missing_after
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "review": self.review,
                "connections": self.connections,
                "plan": self.plan,
                "scope": self.scope,
                "expected": self.expected,
                "deadline": self.deadline,
                "missing_after": self.missing_after,
                "poll_interval": self.poll_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        connections = Connections.from_json(self.connections)
        try:
            backend = build_review_backend(self.review, connections)
        except Exception as error:
            yield TriggerEvent({"status": "error", "message": f"{type(error).__name__}: {error}"})
            return
        watch = ReviewWatch(
            backend,
            self.scope,
            self.expected,
            tickets=lambda: run_tickets(self.plan, connections),
            missing_after=datetime.fromisoformat(self.missing_after),
        )
        deadline = datetime.fromisoformat(self.deadline)
        progress = None
        while True:
            try:
                progress = await asyncio.to_thread(watch.check)
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
                        "deadline": self.deadline,
                        "failed": list(progress.failed) if progress else [],
                        "pending": list(progress.pending) if progress else [],
                    }
                )
                return
            await asyncio.sleep(min(self.poll_interval, remaining))
