"""The cost guard's task: remove what runs of this deployment deployed and left behind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from hitl_detection.domain.cost_guard import decide
from hitl_detection.domain.naming import DEPLOYMENT_NAME_PREFIX
from hitl_detection.hooks.deployed_resources import resources_named
from hitl_detection.operators.deployment_identity import deployment_identity
from hitl_detection.operators.teardown import delete_deployed

# The states of a DAG run that is not over yet.
GOING_RUN_STATES = ("queued", "running")


class RemoveLeftoverEndpointsOperator(AwsBaseOperator[SageMakerHook]):
    """List the endpoints, endpoint configs and models named like a run's (`hitl-*`), read their
    tags, delete those of this deployment whose run is over or whose deadline has passed (endpoint
    first), and return what was removed and what was left, each with why (`domain.cost_guard`).

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
                outcome = delete_deployed(client, verdict.kind, verdict.name)
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
