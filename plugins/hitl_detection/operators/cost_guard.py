"""The cost guard's task: remove what runs of this deployment deployed and left behind, and stop
the transform jobs they left running."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from botocore.exceptions import ClientError

from hitl_detection.domain.cost_guard import TRANSFORM_JOB, Verdict, decide
from hitl_detection.domain.naming import DEPLOYMENT_NAME_PREFIX
from hitl_detection.hooks.deployed_resources import resources_named
from hitl_detection.operators.deployment_identity import deployment_identity
from hitl_detection.operators.teardown import delete_deployed

# The states of a DAG run that is not over yet.
GOING_RUN_STATES = ("queued", "running")


class RemoveLeftoverEndpointsOperator(AwsBaseOperator[SageMakerHook]):
    """List the running transform jobs, endpoints, endpoint configs and models named like a run's
    (`hitl-*`), read their tags, stop the jobs and delete the rest of those of this deployment whose
    run is over or whose deadline has passed (what bills first), and return what was removed and
    what was left, each with why (`domain.cost_guard`).

    A run's state comes from Airflow through the Task SDK; a run Airflow no longer knows is over.
    Every removal is tried; the task fails afterwards when any failed, naming what still bills.
    """

    aws_hook_class = SageMakerHook
    template_fields: Sequence[str] = aws_template_fields()

    def execute(self, context: Context) -> dict[str, list[dict[str, str]]]:
        try:
            me = deployment_identity()
        except ValueError as error:
            raise AirflowFailException(str(error)) from error
        ti = context["ti"]

        def run_is_going(dag_id: str, run_id: str) -> bool:
            return ti.get_dr_count(dag_id=dag_id, run_ids=[run_id], states=list(GOING_RUN_STATES)) > 0

        client = self.hook.conn
        decision = decide(
            resources_named(client, DEPLOYMENT_NAME_PREFIX), me, datetime.now(UTC), run_is_going
        )
        removed: list[dict[str, str]] = []
        failures: list[str] = []
        for verdict in decision.remove:
            try:
                outcome = _remove(client, verdict)
            except AirflowException as error:
                failures.append(str(error))
                continue
            removed.append({**verdict.to_json(), "outcome": outcome})
            self.log.info(
                "Removed SageMaker %s %s (%s): %s.", verdict.kind, verdict.name, outcome, verdict.reason
            )
        for verdict in decision.leave:
            self.log.info("Left SageMaker %s %s: %s.", verdict.kind, verdict.name, verdict.reason)
        self.log.info(
            "Deployment %s: %d removed, %d left, %d failed.",
            me.deployment_id,
            len(removed),
            len(decision.leave),
            len(failures),
        )
        if failures:
            raise AirflowException(" ".join(failures))
        return {"removed": removed, "left": [verdict.to_json() for verdict in decision.leave]}


def _remove(client: Any, verdict: Verdict) -> str:
    """A transform job is stopped (SageMaker deletes none), the rest deleted; the outcome."""
    if verdict.kind == TRANSFORM_JOB:
        return stop_transform_job(client, verdict.name)
    return delete_deployed(client, verdict.kind, verdict.name)


def stop_transform_job(client: Any, name: str) -> str:
    """Stop a transform job a run started, with a boto3 SageMaker client: "stopped", or "already
    ended" when it ended, or began stopping, since it was listed. Any other failure raises, naming
    the job and how to stop it by hand."""
    try:
        client.stop_transform_job(TransformJobName=name)
    except ClientError as error:
        if _status(client, name) not in (None, "InProgress"):
            return "already ended"
        raise AirflowException(
            f"Stopping SageMaker transform job {name} failed: {error}. It bills while it runs. "
            f"Stop it with: aws sagemaker stop-transform-job --transform-job-name {name}"
        ) from error
    return "stopped"


def _status(client: Any, name: str) -> str | None:
    """The job's status; None when it cannot be read."""
    try:
        return client.describe_transform_job(TransformJobName=name)["TransformJobStatus"]
    except ClientError:
        return None
