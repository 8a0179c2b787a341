"""Wait until every review task of a run has finished: answered, failed, skipped, stopped or deleted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.sdk import BaseSensorOperator, Context, PokeReturnValue
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout

from hitl_detection.domain.review_tasks import ReviewProgress
from hitl_detection.domain.run_plan import RunPlan
from hitl_detection.operators.base import connections_of
from hitl_detection.operators.links import ReviewsLink
from hitl_detection.review.base import ReviewBackend
from hitl_detection.review.factory import build_review_backend, review_settings
from hitl_detection.review.watch import ReviewWatch, run_tickets
from hitl_detection.triggers.reviews import ReviewsTrigger

# Airflow's own deferral timeout only backs up the trigger's deadline (whose message names the
# pending tasks), for when no triggerer runs the trigger at all.
DEFERRAL_TIMEOUT_GRACE = timedelta(minutes=5)
# How long a task may be missing from the backend's listing before it is looked up by name.
DEFAULT_MISSING_GRACE_SECONDS = 600


class ReviewsSensor(BaseSensorOperator):
    """Succeed once every review task the run started is finished; failed tasks are data.

    Deferrable by default: while people review (for days, perhaps) the wait runs in the
    triggerer and holds no worker slot. With `deferrable=False` it pokes in `reschedule` mode,
    which frees the slot between pokes. A task deleted by someone ends as failed (see
    `review.watch`), so it never holds up the wait.
    Returns `{"finished": n, "failed": [task names]}`. At `timeout` (the wait's deadline) it
    succeeds too, adding `"deadline_reached"` (when, and what was pending): the answers given are
    published, and `collect_reviews` ends the tasks still open as failed reviews. A deadline
    is the run's own expiry of its tasks, as A2I's is of a loop: it never costs the answers given.

    :param plan: the run's plan.
    :param started: `start_reviews`' result: counts and the backend's progress scope; None when
        that task did not succeed, and then the sensor fails at once.
    :param missing_grace: seconds after the wait began before a task missing from the backend's
        listing is looked up as possibly deleted (a listing may lag behind a start).
    :param aws_conn_id, region_name, verify, botocore_config: the AWS connection settings the
        review backend uses, as for the Amazon provider's operators.
    """

    operator_extra_links = (ReviewsLink(),)
    template_fields: Sequence[str] = (
        "plan",
        "started",
        "aws_conn_id",
        "region_name",
        "verify",
        "botocore_config",
    )

    def __init__(
        self,
        *,
        plan: Mapping[str, Any],
        started: Mapping[str, Any] | None,
        deferrable: bool = True,
        missing_grace: float = DEFAULT_MISSING_GRACE_SECONDS,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        **kwargs,
    ) -> None:
        if not deferrable:
            kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.plan = plan
        self.started = started
        self.deferrable = deferrable
        self.missing_grace = missing_grace
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config
        self._watch: ReviewWatch | None = None
        self._last_progress: ReviewProgress | None = None

    @cached_property
    def review(self) -> dict[str, Any]:
        return review_settings(RunPlan.from_xcom(self.plan).config)

    @cached_property
    def backend(self) -> ReviewBackend:
        return build_review_backend(self.review, connections_of(self))

    @property
    def expected(self) -> int:
        return self.started["started"] + self.started["reused"]

    def execute(self, context: Context) -> dict[str, Any]:
        if self.started is None:
            # The wait runs once the endpoint's teardown is over, whatever its state, so it runs
            # also when the reviews were never started (detection or start_reviews failed).
            raise AirflowFailException(
                "There are no review tasks to wait for: start_reviews did not succeed (see its log)"
            )
        if self.expected == 0:
            self.log.info("No review task was started: nothing to wait for.")
            return {"finished": 0, "failed": []}
        ReviewsLink.persist(context, lambda: self.backend.console_url(self.started["scope"]))
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSensorTimeout as timeout:
                progress = self._last_progress
                return self._deadline_reached(
                    datetime.now(UTC).isoformat(),
                    f"{timeout} {progress.describe() if progress else 'no check succeeded'}",
                    list(progress.failed) if progress else [],
                )
        missing_after = self._missing_after(datetime.now(UTC))
        try:
            progress = self._check(missing_after)
        except Exception as error:
            # An outage already under way when the wait begins is ridden out by the trigger.
            if not self.backend.is_transient(error):
                raise
            self.log.warning("Checking the reviews failed for a passing reason (%s); deferring.", error)
        else:
            if progress.done:
                return self._finished(progress.finished, list(progress.failed))
        self.defer(
            trigger=ReviewsTrigger(
                review=self.review,
                connections=connections_of(self).to_json(),
                plan=dict(self.plan),
                scope=self.started["scope"],
                expected=self.expected,
                deadline=(datetime.now(UTC) + timedelta(seconds=self.timeout)).isoformat(),
                missing_after=missing_after.isoformat(),
                poll_interval=self.poke_interval,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) + DEFERRAL_TIMEOUT_GRACE,
        )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        # Rescheduled, each poke is a new task process: the wait began at the first one.
        began = context["ti"].get_first_reschedule_date(context) if self.reschedule else None
        progress = self._check(self._missing_after(began or datetime.now(UTC)))
        if not progress.done:
            return False
        return PokeReturnValue(
            is_done=True, xcom_value=self._finished(progress.finished, list(progress.failed))
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        event = validate_execute_complete_event(event)
        if event["status"] == "success":
            return self._finished(event["finished"], event["failed"])
        if event["status"] == "timeout":
            return self._deadline_reached(event["deadline"], event["message"], event["failed"])
        raise AirflowException(f"Waiting for the reviews failed: {event.get('message', event)}")

    def _missing_after(self, began: datetime) -> datetime:
        return began + timedelta(seconds=self.missing_grace)

    def _check(self, missing_after: datetime) -> ReviewProgress:
        if self._watch is None:
            connections = connections_of(self)
            self._watch = ReviewWatch(
                self.backend,
                self.started["scope"],
                self.expected,
                tickets=lambda: run_tickets(self.plan, connections),
                missing_after=missing_after,
            )
        self._last_progress = self._watch.check()
        self.log.info("%s", self._last_progress.describe())
        return self._last_progress

    def _deadline_reached(self, deadline: str, state: str, failed: list[str]) -> dict[str, Any]:
        self.log.warning(
            "The wait reached its deadline (%s): %s. The answers given are collected and published; "
            "the tasks still open end as review_failed (collect_reviews says how each was ended).",
            deadline,
            state,
        )
        return {"finished": None, "failed": failed, "deadline_reached": {"at": deadline, "state": state}}

    def _finished(self, finished: int, failed: list[str]) -> dict[str, Any]:
        if failed:
            self.log.warning(
                "All review tasks finished; %d failed (their images become review_failed): %s",
                len(failed),
                ", ".join(failed),
            )
        else:
            self.log.info("All %d review tasks finished.", finished)
        return {"finished": finished, "failed": failed}
