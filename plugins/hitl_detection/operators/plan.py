"""The first task of a run: refuse bad input before any money is spent, then plan the run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context, Variable
from airflow.sdk.exceptions import AirflowFailException
from botocore.exceptions import ClientError

from hitl_detection.run_config import ParamsError, RunConfig
from hitl_detection.run_plan import build_run_plan

# Plan entries pushed as XComs of their own, for operators whose arguments take them whole.
PLAN_XCOM_KEYS = (
    "deploy",
    "model",
    "endpoint_config",
    "endpoint",
    "endpoint_name",
    "endpoint_config_name",
    "model_name",
)


class PlanRunOperator(AwsBaseOperator[SageMakerHook]):
    """Check the run's params and what they point at, and return the run's plan.

    Param problems fail the task at once without retries (retrying cannot fix them). Then, with
    read-only calls: the A2I flow definition must be Active, a reused endpoint InService.
    """

    aws_hook_class = SageMakerHook
    template_fields: Sequence[str] = aws_template_fields("conf_variable")

    def __init__(self, *, conf_variable: str | None = None, **kwargs) -> None:
        """`conf_variable`: an Airflow Variable (JSON of param names) over the params, for
        scheduled runs, which have no trigger form."""
        super().__init__(**kwargs)
        self.conf_variable = conf_variable

    def execute(self, context: Context) -> dict[str, Any]:
        params = dict(context["params"])
        if self.conf_variable:
            overrides = Variable.get(self.conf_variable, default=None, deserialize_json=True)
            if not isinstance(overrides, Mapping):
                raise AirflowFailException(
                    f"Variable {self.conf_variable} is {overrides!r}; expected a JSON object of run params"
                )
            params.update(overrides)
        try:
            config = RunConfig.from_params(params)
        except ParamsError as error:
            raise AirflowFailException(f"The run's params are not valid: {error}") from error
        if config.review_backend == "labelstudio":
            raise AirflowFailException(
                "review_backend 'labelstudio' is not available yet: the Label Studio backend has not "
                "landed; use review_backend 'a2i'."
            )
        self._check_flow_definition(config.flow_definition_arn)
        if config.endpoint_name:
            self._check_endpoint(config.endpoint_name)
        plan = build_run_plan(config, context["run_id"])
        for key in PLAN_XCOM_KEYS:
            context["ti"].xcom_push(key=key, value=plan[key])
        action = "deploy endpoint" if plan["deploy"] else "reuse endpoint"
        self.log.info(
            "Run plan: %s %s; results under %s", action, plan["endpoint_name"], config.output_s3_uri
        )
        return plan

    def _check_flow_definition(self, arn: str) -> None:
        name = arn.rsplit("/", 1)[-1]
        try:
            status = self.hook.conn.describe_flow_definition(FlowDefinitionName=name)["FlowDefinitionStatus"]
        except ClientError as error:
            raise AirflowFailException(f"flow_definition_arn {arn}: {error}") from error
        if status != "Active":
            raise AirflowFailException(
                f"flow_definition_arn {arn} is {status}; expected Active (run review_workflow_setup first)"
            )

    def _check_endpoint(self, name: str) -> None:
        try:
            status = self.hook.conn.describe_endpoint(EndpointName=name)["EndpointStatus"]
        except ClientError as error:
            raise AirflowFailException(f"endpoint_name {name}: {error}") from error
        if status != "InService":
            raise AirflowFailException(
                f"endpoint_name {name} is {status}; expected an InService endpoint to reuse"
            )
