"""The provider's SageMaker deploy operators, as setup tasks that deploy only when the run must.

A run given an `endpoint_name` reuses that endpoint. Its setup tasks must still succeed rather
than skip: Airflow skips every task in the scope of a skipped setup, detection included.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerEndpointConfigOperator,
    SageMakerEndpointOperator,
    SageMakerModelOperator,
)
from airflow.sdk import BaseOperator, Context


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
        return super().execute(context)


class DeployModelOperator(_DeployUnlessReused, SageMakerModelOperator):
    template_fields = (*SageMakerModelOperator.template_fields, "deploy")


class DeployEndpointConfigOperator(_DeployUnlessReused, SageMakerEndpointConfigOperator):
    template_fields = (*SageMakerEndpointConfigOperator.template_fields, "deploy")


class DeployEndpointOperator(_DeployUnlessReused, SageMakerEndpointOperator):
    template_fields = (*SageMakerEndpointOperator.template_fields, "deploy")
