"""Tear down what a run deployed, so that no idle endpoint keeps billing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException
from botocore.exceptions import ClientError

from hitl_detection.domain.run_plan import RunPlan
from hitl_detection.hooks.aws_errors import is_not_found


class SageMakerEndpointTeardownOperator(AwsBaseOperator[SageMakerHook]):
    """Delete the run's endpoint, then its config, then the model; each may already be gone.

    The endpoint goes first because it is what is billed. The provider has no operator for the
    first two deletions. A run that reused someone's endpoint deletes nothing.
    """

    aws_hook_class = SageMakerHook
    template_fields: Sequence[str] = aws_template_fields("plan")

    def __init__(self, *, plan: Mapping[str, Any], **kwargs) -> None:
        super().__init__(**kwargs)
        self.plan = plan

    def execute(self, context: Context) -> dict[str, str]:
        deployment = RunPlan.from_xcom(self.plan).deployment
        if not deployment.deploys:
            self.log.info(
                "Endpoint %s was not deployed by this run: it is left running.", deployment.endpoint_name
            )
            return {}
        client = self.hook.conn
        steps = (
            ("endpoint", deployment.endpoint_name, lambda name: client.delete_endpoint(EndpointName=name)),
            (
                "endpoint config",
                deployment.endpoint_config_name,
                lambda name: client.delete_endpoint_config(EndpointConfigName=name),
            ),
            ("model", deployment.model_name, lambda name: client.delete_model(ModelName=name)),
        )
        outcome = {}
        for kind, name, delete in steps:
            try:
                delete(name)
            except ClientError as error:
                if not is_not_found(error):
                    raise AirflowException(_still_there(kind, name, error)) from error
                self.log.info("SageMaker %s %s was already gone.", kind, name)
                outcome[kind] = "already gone"
            else:
                self.log.info("Deleted SageMaker %s %s.", kind, name)
                outcome[kind] = "deleted"
        return outcome


def _still_there(kind: str, name: str, error: ClientError) -> str:
    option = {"endpoint": "endpoint", "endpoint config": "endpoint-config", "model": "model"}[kind]
    billing = " It is still running and billing." if kind == "endpoint" else ""
    return (
        f"Deleting SageMaker {kind} {name} failed: {error}.{billing} Delete it with: "
        f"aws sagemaker delete-{option} --{option}-name {name}"
    )
