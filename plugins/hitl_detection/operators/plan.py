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

from hitl_detection.domain.run_config import ParamsError, RunConfig
from hitl_detection.domain.run_plan import RunPlan
from hitl_detection.operators.base import connections_of
from hitl_detection.review.base import ReviewSetupError
from hitl_detection.review.factory import build_review_backend, review_settings

# What one endpoint instance serves at once: more only queues in the container or is throttled.
DEFAULT_CONCURRENCY_PER_INSTANCE = 4


class PlanRunOperator(AwsBaseOperator[SageMakerHook]):
    """Check the run's params and what they point at, and return the run's plan (`RunPlan.to_xcom`).

    Param problems fail the task at once without retries (retrying cannot fix them). Then, with
    read-only calls: the review backend checks its settings (the A2I flow definition must be this
    very one and Active), and a reused endpoint must be InService.
    """

    aws_hook_class = SageMakerHook
    template_fields: Sequence[str] = aws_template_fields("conf_variable")

    def __init__(
        self,
        *,
        conf_variable: str | None = None,
        concurrency_per_instance: int = DEFAULT_CONCURRENCY_PER_INSTANCE,
        **kwargs,
    ) -> None:
        """`conf_variable`: an Airflow Variable (JSON of param names) over the params, for
        scheduled runs, which have no trigger form. `concurrency_per_instance`: how many requests
        one endpoint instance serves at once; detection keeps instances x this in flight."""
        super().__init__(**kwargs)
        self.conf_variable = conf_variable
        self.concurrency_per_instance = concurrency_per_instance

    def execute(self, context: Context) -> dict[str, Any]:
        config = self._config(dict(context["params"]))
        try:
            backend = build_review_backend(review_settings(config), connections_of(self))
            backend.check(config.labels)
        except (ReviewSetupError, ValueError) as error:
            raise AirflowFailException(f"review_backend {config.review_backend}: {error}") from error
        instances = self._check_endpoint(config.endpoint_name) if config.endpoint_name else None
        plan = RunPlan.build(
            config,
            run_id=context["run_id"],
            concurrency_per_instance=self.concurrency_per_instance,
            endpoint_instances=instances,
        )
        deployment = plan.deployment
        self.log.info(
            "Run plan: %s endpoint %s (%d requests in flight); review by %s; results under %s",
            "deploy" if deployment.deploys else "reuse",
            deployment.endpoint_name,
            plan.endpoint_concurrency,
            config.review_backend,
            plan.layout.uri,
        )
        return plan.to_xcom()

    def _config(self, params: dict[str, Any]) -> RunConfig:
        if self.conf_variable:
            overrides = Variable.get(self.conf_variable, default=None, deserialize_json=True)
            if not isinstance(overrides, Mapping):
                raise AirflowFailException(
                    f"Variable {self.conf_variable} is {overrides!r}; expected a JSON object of run params"
                )
            params.update(overrides)
        try:
            return RunConfig.from_params(params)
        except ParamsError as error:
            raise AirflowFailException(f"The run's params are not valid: {error}") from error

    def _check_endpoint(self, name: str) -> int | None:
        """The reused endpoint must be InService; returns its instance count when it reports one."""
        try:
            endpoint = self.hook.conn.describe_endpoint(EndpointName=name)
        except ClientError as error:
            raise AirflowFailException(f"endpoint_name {name}: {error}") from error
        status = endpoint["EndpointStatus"]
        if status != "InService":
            raise AirflowFailException(
                f"endpoint_name {name} is {status}; expected an InService endpoint to reuse"
            )
        counts = [variant.get("CurrentInstanceCount") for variant in endpoint.get("ProductionVariants", ())]
        return sum(counts) if counts and all(counts) else None
