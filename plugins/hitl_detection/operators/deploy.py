"""The provider's SageMaker deploy operators, as setup tasks that deploy only when the run must.

A run given an `endpoint_name` reuses that endpoint, and a run detecting with batch transform jobs
deploys its model only. Their setup tasks must still succeed rather than skip: Airflow skips every
task in the scope of a skipped setup, detection included.

Names are deterministic per run, so a model, endpoint config or endpoint with the run's name was
created by an earlier try of this run: a retry reuses it, where the provider's operator would
fail with "Cannot create already existing" (or, for an endpoint, send an UpdateEndpoint). An
endpoint that went Failed never recovers: a retry deletes it and creates it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerEndpointConfigOperator,
    SageMakerEndpointOperator,
    SageMakerModelOperator,
)
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException
from botocore.exceptions import ClientError

from hitl_detection.domain.bill import BILLED_FROM
from hitl_detection.domain.inference import BATCH_TRANSFORM
from hitl_detection.domain.run_plan import Deployment, RunPlan
from hitl_detection.hooks.aws_errors import is_not_found
from hitl_detection.operators.links import SageMakerConsoleLink, sagemaker_resource_url
from hitl_detection.operators.teardown import delete_deployed
from hitl_detection.triggers.endpoint import EndpointInServiceTrigger, endpoint_state

# Longer than SageMaker takes to bring an endpoint up (5-10 minutes), short of a stuck one.
ENDPOINT_DEADLINE = timedelta(minutes=45)
# Longer than SageMaker takes to delete an endpoint (a minute or two), short of a stuck deletion.
ENDPOINT_DELETE_DEADLINE = timedelta(minutes=15)


class _DeployStep(BaseOperator):
    """Build the provider operator's request from the plan, and send it only when the run deploys
    and no earlier try of the run created the resource already.

    A BaseOperator itself so that Airflow wraps its __init__ like every operator's.
    """

    kind: str
    request: Callable[[Deployment, list[dict[str, str]]], dict[str, Any]]
    operator_extra_links = (SageMakerConsoleLink(),)
    # A run detecting with transform jobs needs the model only.
    endpoint_only: bool = True

    def __init__(self, *, plan: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(config={}, **kwargs)
        self.plan = plan

    def execute(self, context: Context) -> Any:
        plan = RunPlan.from_xcom(self.plan)
        deployment = plan.deployment
        if not deployment.deploys:
            self.log.info(
                "The run reuses endpoint %s: %s deploys nothing.", deployment.endpoint_name, self.task_id
            )
            return None
        if self.endpoint_only and plan.inference == BATCH_TRANSFORM:
            self.log.info("The run detects with transform jobs: %s deploys no %s.", self.task_id, self.kind)
            return None
        # Tagged with the run and a deadline counted from now, for the cost guard.
        self.config = type(self).request(deployment, plan.resource_tags(datetime.now(UTC)))
        name = self._name()
        SageMakerConsoleLink.persist(context, lambda: sagemaker_resource_url(self.hook, self.kind, name))
        existing = self._existing(name)
        if existing is None or self._discarded(existing):
            super().execute(context)
        else:
            self.log.info("The %s %s exists from an earlier try of this run: reused.", self.kind, name)
        return self._ready(context, name)

    def _name(self) -> str:
        raise NotImplementedError

    def _describe(self, name: str) -> dict[str, Any]:
        raise NotImplementedError

    def _ready(self, context: Context, name: str) -> dict[str, str]:
        return {self.kind: name}

    def _existing(self, name: str) -> dict[str, Any] | None:
        """The resource's description, or None when there is none."""
        try:
            return self._describe(name)
        except ClientError as error:
            if is_not_found(error):
                return None
            raise

    def _discarded(self, existing: dict[str, Any]) -> bool:
        """Whether what an earlier try left cannot be reused and was deleted, to be created again."""
        return False


class DeployModelOperator(_DeployStep, SageMakerModelOperator):
    kind = "model"
    endpoint_only = False
    request = Deployment.model_request
    template_fields = (*SageMakerModelOperator.template_fields, "plan")

    def _name(self) -> str:
        return self.config["ModelName"]

    def _describe(self, name: str) -> dict[str, Any]:
        return self.hook.describe_model(name)


class DeployEndpointConfigOperator(_DeployStep, SageMakerEndpointConfigOperator):
    kind = "endpoint config"
    request = Deployment.endpoint_config_request
    template_fields = (*SageMakerEndpointConfigOperator.template_fields, "plan")

    def _name(self) -> str:
        return self.config["EndpointConfigName"]

    def _describe(self, name: str) -> dict[str, Any]:
        return self.hook.describe_endpoint_config(name)


class DeployEndpointOperator(_DeployStep, SageMakerEndpointOperator):
    """Create the endpoint, then wait for InService in the triggerer (no worker slot held)."""

    kind = "endpoint"
    request = Deployment.endpoint_request
    template_fields = (*SageMakerEndpointOperator.template_fields, "plan")

    def __init__(self, *, check_interval: float = 30, **kwargs: Any) -> None:
        super().__init__(wait_for_completion=False, deferrable=False, check_interval=check_interval, **kwargs)

    def _name(self) -> str:
        return self.config["EndpointName"]

    def _describe(self, name: str) -> dict[str, Any]:
        return self.hook.describe_endpoint(name)

    def _discarded(self, endpoint: dict[str, Any]) -> bool:
        """A Failed endpoint never recovers: reused, it would fail this try at once as it failed the
        last. Only the endpoint is made again; its config and model are fine."""
        if endpoint["EndpointStatus"] != "Failed":
            return False
        name = endpoint["EndpointName"]
        delete_deployed(self.hook.conn, self.kind, name)
        self._wait_until_gone(name)
        self.log.info(
            "Endpoint %s was Failed from an earlier try (%s): deleted, creating it again.",
            name,
            endpoint.get("FailureReason") or "no FailureReason given",
        )
        return True

    def _wait_until_gone(self, name: str) -> None:
        """DeleteEndpoint only starts the deletion (Deleting): the name is free once it is done."""
        deadline = time.monotonic() + ENDPOINT_DELETE_DEADLINE.total_seconds()
        while (endpoint := self._existing(name)) is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AirflowException(
                    f"endpoint {name} was still {endpoint['EndpointStatus']} "
                    f"{ENDPOINT_DELETE_DEADLINE.total_seconds():g}s after DeleteEndpoint; expected it gone"
                )
            self.log.info("Endpoint %s is %s.", name, endpoint["EndpointStatus"])
            time.sleep(min(self.check_interval, remaining))

    def _ready(self, context: Context, name: str) -> dict[str, str]:
        endpoint = self.hook.describe_endpoint(name)
        state, problem = endpoint_state(endpoint)
        if state == "ready":
            self.log.info("Endpoint %s is InService.", name)
            return self._billed_from(endpoint)
        if state == "failed":
            raise AirflowException(problem)
        self.defer(
            trigger=EndpointInServiceTrigger.for_task(
                self,
                endpoint_name=name,
                deadline=(datetime.now(UTC) + ENDPOINT_DEADLINE).isoformat(),
                poll_interval=self.check_interval,
            ),
            method_name="execute_complete",
            timeout=ENDPOINT_DEADLINE + timedelta(minutes=5),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, str]:
        event = validate_execute_complete_event(event)
        if event["status"] != "success":
            raise AirflowException(event["message"])
        self.log.info("Endpoint %s is InService.", event["endpoint_name"])
        return self._billed_from(self.hook.describe_endpoint(event["endpoint_name"]))

    def _billed_from(self, endpoint: dict[str, Any]) -> dict[str, str]:
        """The endpoint, and when it was created: its instances bill from then (the run's bill)."""
        created = endpoint["CreationTime"].astimezone(UTC).isoformat()
        return {self.kind: endpoint["EndpointName"], BILLED_FROM: created}
