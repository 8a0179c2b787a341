"""The provider's SageMaker deploy operators, as setup tasks that deploy only when the run must.

A run given an `endpoint_name` reuses that endpoint. Its setup tasks must still succeed rather
than skip: Airflow skips every task in the scope of a skipped setup, detection included.

Names are deterministic per run, so a model or endpoint config with the run's name was created
by an earlier try of this run: a retry reuses it, where the provider's operator would fail with
"Cannot create already existing". (The endpoint operator itself turns that into an update.)
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerEndpointConfigOperator,
    SageMakerEndpointOperator,
    SageMakerModelOperator,
)
from airflow.sdk import BaseOperator, Context
from botocore.exceptions import ClientError

from hitl_detection.hooks.sagemaker_errors import is_not_found


class _DeployUnlessReused(BaseOperator):
    """Run the provider operator only when `deploy` is true; otherwise log and do nothing.

    A BaseOperator itself so that Airflow wraps its __init__ like every operator's.
    """

    def __init__(self, *, deploy: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deploy = deploy

    def execute(self, context: Context) -> Any:
        if not self.deploy:
            self.log.info("The run reuses an endpoint: %s deploys nothing.", self.task_id)
            return None
        found = self._found_from_earlier_try()
        if found:
            self.log.info("The %s exists from an earlier try of this run: reused.", found)
            return None
        return super().execute(context)

    def _found_from_earlier_try(self) -> str | None:
        """What this step creates, named, when an earlier try created it already; else None."""
        return None

    def _exists(self, describe) -> bool:
        try:
            describe()
        except ClientError as error:
            if is_not_found(error):
                return False
            raise
        return True


class DeployModelOperator(_DeployUnlessReused, SageMakerModelOperator):
    template_fields = (*SageMakerModelOperator.template_fields, "deploy")

    def _found_from_earlier_try(self) -> str | None:
        name = self.config["ModelName"]
        return f"model {name}" if self._exists(lambda: self.hook.describe_model(name)) else None


class DeployEndpointConfigOperator(_DeployUnlessReused, SageMakerEndpointConfigOperator):
    template_fields = (*SageMakerEndpointConfigOperator.template_fields, "deploy")

    def _found_from_earlier_try(self) -> str | None:
        name = self.config["EndpointConfigName"]
        return (
            f"endpoint config {name}"
            if self._exists(lambda: self.hook.describe_endpoint_config(name))
            else None
        )


class DeployEndpointOperator(_DeployUnlessReused, SageMakerEndpointOperator):
    template_fields = (*SageMakerEndpointOperator.template_fields, "deploy")
