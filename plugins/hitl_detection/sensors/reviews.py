"""Wait until every review task of a run has finished: answered, failed or stopped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context, PokeReturnValue
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

from hitl_detection.hooks.a2i_runtime import A2IRuntimeHook
from hitl_detection.naming import human_loop_name_prefix
from hitl_detection.review.backends import get_review_backend
from hitl_detection.review.base import ReviewBackend, ReviewProgress
from hitl_detection.triggers.reviews import ReviewsTrigger, progress_text

# The sweep starts this long before the run's first task was created, so that rounding of
# timestamps by the service never hides a task.
CREATED_AFTER_MARGIN = timedelta(minutes=1)
# Airflow's own deferral timeout only backs up the trigger's deadline (whose message names the
# pending tasks), for when no triggerer runs the trigger at all.
DEFERRAL_TIMEOUT_GRACE = timedelta(minutes=5)


def review_scope(plan: Mapping[str, Any], started: Sequence[Mapping[str, Any]]) -> tuple[int, dict]:
    """(expected, scope) from the plan and the start tasks' results, one per batch.

    `started[:]` reads a mapped task's results in one request (iterating asks for each, then one more).
    """
    results = started[:]
    expected = sum(result["started"] + result["reused"] for result in results)
    created = [
        datetime.fromisoformat(result["earliest_created"]) for result in results if result["earliest_created"]
    ]
    scope = {
        "flow_definition_arn": plan["config"]["flow_definition_arn"],
        "created_after": (min(created) - CREATED_AFTER_MARGIN).isoformat() if created else None,
        "name_prefix": human_loop_name_prefix(plan["run_id"]),
    }
    return expected, scope


class ReviewsSensor(AwsBaseSensor[A2IRuntimeHook]):
    """Succeed once every review task the run started is finished; failed tasks are data.

    Deferrable by default: while people review (for days, perhaps) the wait runs in the
    triggerer and holds no worker slot. With `deferrable=False` it pokes in `reschedule` mode,
    which frees the slot between pokes. On `timeout` it fails naming the tasks still pending.
    Returns `{"finished": n, "failed": [task names]}`.

    :param plan: the run's plan (run id, review backend, flow definition).
    :param started: the results of the run's start tasks (the mapped task's output).
    """

    aws_hook_class = A2IRuntimeHook
    template_fields: Sequence[str] = aws_template_fields("plan", "started")

    def __init__(
        self,
        *,
        plan: Mapping[str, Any],
        started: Sequence[Mapping[str, Any]],
        deferrable: bool = True,
        **kwargs,
    ) -> None:
        if not deferrable:
            kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.plan = plan
        self.started = started
        self.deferrable = deferrable
        self._expected = 0
        self._scope: dict[str, Any] = {}
        self._last_progress: ReviewProgress | None = None

    @cached_property
    def backend(self) -> ReviewBackend:
        return get_review_backend(
            self.plan["config"]["review_backend"],
            flow_definition_arn=self.plan["config"]["flow_definition_arn"],
            hook=self.hook,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        self._expected, self._scope = review_scope(self.plan, self.started)
        if self._expected == 0:
            self.log.info("No review task was started: nothing to wait for.")
            return {"finished": 0, "failed": []}
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSensorTimeout as timeout:
                raise AirflowSensorTimeout(f"{timeout} {progress_text(self._last_progress)}") from timeout
        progress = self._check()
        if progress.done:
            return self._finished(progress.finished, list(progress.failed))
        self.defer(
            trigger=ReviewsTrigger(
                review_backend=self.plan["config"]["review_backend"],
                flow_definition_arn=self.plan["config"]["flow_definition_arn"],
                scope=self._scope,
                expected=self._expected,
                deadline=(datetime.now(UTC) + timedelta(seconds=self.timeout)).isoformat(),
                poll_interval=self.poke_interval,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) + DEFERRAL_TIMEOUT_GRACE,
        )

    def poke(self, context: Context) -> bool | PokeReturnValue:
        progress = self._check()
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
            raise AirflowSensorTimeout(event["message"])
        raise AirflowException(f"Waiting for the reviews failed: {event.get('message', event)}")

    def _check(self) -> ReviewProgress:
        self._last_progress = self.backend.progress(self._scope, self._expected)
        self.log.info("%s", progress_text(self._last_progress))
        return self._last_progress

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
