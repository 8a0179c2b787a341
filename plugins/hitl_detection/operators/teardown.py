"""Tear down what a run deployed, so that no idle endpoint keeps billing."""

from __future__ import annotations

from collections.abc import Sequence

from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context
from botocore.exceptions import ClientError

from hitl_detection.hooks.sagemaker_errors import is_not_found


class SageMakerEndpointTeardownOperator(AwsBaseOperator[SageMakerHook]):
    """Delete an endpoint, then its config, then the model; each may already be gone.

    The endpoint goes first because it is what is billed. The provider has no operator for the
    first two deletions. With `deployed_by_run` false (the run reused someone's endpoint) it
    deletes nothing.
    """

    aws_hook_class = SageMakerHook
    template_fields: Sequence[str] = aws_template_fields(
        "endpoint_name", "endpoint_config_name", "model_name", "deployed_by_run"
    )

    def __init__(
        self,
        *,
        endpoint_name: str,
        endpoint_config_name: str,
        model_name: str,
        deployed_by_run: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.endpoint_name = endpoint_name
        self.endpoint_config_name = endpoint_config_name
        self.model_name = model_name
        self.deployed_by_run = deployed_by_run

    def execute(self, context: Context) -> dict[str, str]:
        if not self.deployed_by_run:
            self.log.info("Endpoint %s was not deployed by this run: it is left running.", self.endpoint_name)
            return {}
        client = self.hook.conn
        steps = (
            ("endpoint", self.endpoint_name, lambda: client.delete_endpoint(EndpointName=self.endpoint_name)),
            (
                "endpoint config",
                self.endpoint_config_name,
                lambda: client.delete_endpoint_config(EndpointConfigName=self.endpoint_config_name),
            ),
            ("model", self.model_name, lambda: client.delete_model(ModelName=self.model_name)),
        )
        outcome = {}
        for kind, name, delete in steps:
            try:
                delete()
            except ClientError as error:
                if not is_not_found(error):
                    raise
                self.log.info("SageMaker %s %s was already gone.", kind, name)
                outcome[kind] = "already gone"
            else:
                self.log.info("Deleted SageMaker %s %s.", kind, name)
                outcome[kind] = "deleted"
        return outcome
