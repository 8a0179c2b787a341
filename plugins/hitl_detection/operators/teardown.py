"""Tear down what a run deployed, so that no idle endpoint keeps billing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from botocore.exceptions import ClientError

from hitl_detection.domain.batch_transform import billed_window
from hitl_detection.domain.bill import BILLED_UNTIL
from hitl_detection.domain.inference import BATCH_TRANSFORM
from hitl_detection.domain.run_plan import Deployment, RunPlan
from hitl_detection.hooks.aws_errors import is_not_found
from hitl_detection.hooks.transform_jobs import RunTransformJobs


class SageMakerEndpointTeardownOperator(AwsBaseOperator[SageMakerHook]):
    """Delete the run's endpoint, then its config, then the model; each may already be gone.

    The endpoint goes first because it is what is billed; in transform mode, a transform job of
    the run still running is stopped before anything (the result lists the jobs, with their
    times). The provider has no operator for the first two deletions. A run that reused someone's
    endpoint deletes nothing.
    """

    aws_hook_class = SageMakerHook
    template_fields: Sequence[str] = aws_template_fields("plan")

    def __init__(self, *, plan: Mapping[str, Any], **kwargs) -> None:
        super().__init__(**kwargs)
        self.plan = plan

    def execute(self, context: Context) -> dict[str, Any]:
        plan = RunPlan.from_xcom(self.plan)
        deployment = plan.deployment
        if not deployment.deploys:
            self.log.info(
                "Endpoint %s was not deployed by this run: it is left running.", deployment.endpoint_name
            )
            return {}
        client = self.hook.conn
        outcome: dict[str, Any] = {}
        if plan.inference == BATCH_TRANSFORM:
            # What bills first: a job still running when detection ended (failed, or timed out).
            jobs = RunTransformJobs.of_run(plan, self._hook_parameters).stop_running()
            for job in jobs:
                self.log.info("SageMaker transform job %s: %s.", job["name"], job["status"])
            outcome["transform jobs"] = jobs
            outcome |= billed_window(jobs, datetime.now(UTC))
        for kind, name in _resources(deployment):
            outcome[kind] = delete_deployed(client, kind, name)
            self.log.info("SageMaker %s %s: %s.", kind, name, outcome[kind])
            if kind == "endpoint" and outcome[kind] == "deleted":
                # What stops the billing, for the run's bill (an endpoint already gone was deleted
                # by an earlier try, at a time not known here).
                outcome[BILLED_UNTIL] = datetime.now(UTC).isoformat()
        return outcome


class SageMakerEndpointLeftCheck(AwsBaseOperator[SageMakerHook]):
    """Fail the run when what it deployed outlived a failed teardown; pass when nothing is left.

    The wait for the reviews goes on after the teardown whatever its state, so that a failed delete
    never costs the reviewers' answers; Airflow judges a run by its last tasks, so this one, run
    only when the teardown did not succeed, fails the run and names what still bills and how to
    delete it. Read-only: one Describe call per resource.
    """

    aws_hook_class = SageMakerHook
    template_fields: Sequence[str] = aws_template_fields("plan")

    def __init__(self, *, plan: Mapping[str, Any], **kwargs) -> None:
        super().__init__(**kwargs)
        self.plan = plan

    def execute(self, context: Context) -> None:
        deployment = RunPlan.from_xcom(self.plan).deployment
        if not deployment.deploys:
            self.log.info(
                "Endpoint %s was not deployed by this run: nothing to check.", deployment.endpoint_name
            )
            return
        client = self.hook.conn
        describe = {
            "endpoint": lambda name: client.describe_endpoint(EndpointName=name),
            "endpoint config": lambda name: client.describe_endpoint_config(EndpointConfigName=name),
            "model": lambda name: client.describe_model(ModelName=name),
        }
        left = []
        for kind, name in _resources(deployment):
            try:
                describe[kind](name)
            except ClientError as error:
                if not is_not_found(error):
                    raise
                self.log.info("SageMaker %s %s is gone.", kind, name)
            else:
                left.append(
                    f"SageMaker {kind} {name} is still there.{_billing(kind)} Delete it with: "
                    f"{_delete_command(kind, name)}"
                )
        if left:
            raise AirflowFailException(
                "The teardown failed (see delete_endpoint's log) and left what this run deployed: "
                + "; ".join(left)
            )
        self.log.info("The teardown did not succeed, but nothing this run deployed is left.")


def delete_deployed(client: Any, kind: str, name: str) -> str:
    """Delete a model, endpoint config or endpoint a run deployed (`kind`: "model", "endpoint
    config" or "endpoint") with a boto3 SageMaker client: "deleted", or "already gone". Any other
    failure raises, naming what is still there, whether it bills, and how to delete it by hand."""
    delete = {
        "endpoint": lambda: client.delete_endpoint(EndpointName=name),
        "endpoint config": lambda: client.delete_endpoint_config(EndpointConfigName=name),
        "model": lambda: client.delete_model(ModelName=name),
    }[kind]
    try:
        delete()
    except ClientError as error:
        if not is_not_found(error):
            raise AirflowException(_still_there(kind, name, error)) from error
        return "already gone"
    return "deleted"


def _resources(deployment: Deployment) -> tuple[tuple[str, str], ...]:
    """What a run deploys, in the order it is deleted: the endpoint first, as it is what bills."""
    return (
        ("endpoint", deployment.endpoint_name),
        ("endpoint config", deployment.endpoint_config_name),
        ("model", deployment.model_name),
    )


def _still_there(kind: str, name: str, error: ClientError) -> str:
    return (
        f"Deleting SageMaker {kind} {name} failed: {error}.{_billing(kind)} Delete it with: "
        f"{_delete_command(kind, name)}"
    )


def _billing(kind: str) -> str:
    return " It is still running and billing." if kind == "endpoint" else ""


def _delete_command(kind: str, name: str) -> str:
    option = {"endpoint": "endpoint", "endpoint config": "endpoint-config", "model": "model"}[kind]
    return f"aws sagemaker delete-{option} --{option}-name {name}"
