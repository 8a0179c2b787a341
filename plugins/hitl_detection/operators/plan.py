"""The first task of a run: refuse bad input before any money is spent, then plan the run."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context, Variable
from airflow.sdk.exceptions import AirflowFailException
from botocore.exceptions import ClientError

from hitl_detection.domain.inference import AUTO, BATCH_TRANSFORM, DEFAULT_BATCH_TRANSFORM_ABOVE
from hitl_detection.domain.model_classes import model_classes
from hitl_detection.domain.run_config import ParamsError, RunConfig
from hitl_detection.domain.run_owner import RunOwner
from hitl_detection.domain.run_plan import DEFAULT_ENDPOINT_DEADLINE, RunPlan
from hitl_detection.hooks.image_listing import image_keys
from hitl_detection.operators.base import connections_of
from hitl_detection.operators.deployment_identity import run_owner
from hitl_detection.review.base import ReviewSetupError
from hitl_detection.review.factory import build_review_backend, review_settings

# What one endpoint instance serves at once: more only queues in the container or is throttled.
DEFAULT_CONCURRENCY_PER_INSTANCE = 4


class PlanRunOperator(AwsBaseOperator[SageMakerHook]):
    """Check the run's params and what they point at, and return the run's plan (`RunPlan.to_xcom`).

    Param problems fail the task at once without retries (retrying cannot fix them). Then, with
    read-only calls: the review backend checks its settings (the A2I flow definition must be this
    very one and Active), and a reused endpoint must be InService. With inference `auto`, the
    images are counted (up to one past `batch_transform_above`) to decide the plan's inference.
    Last, the run is named after this Airflow deployment, DAG and run (`RunOwner`), and claims its
    output folder with an owner file: the one write, so that a folder of another run is refused.
    """

    aws_hook_class = SageMakerHook
    template_fields: Sequence[str] = aws_template_fields("conf_variable", "modified_after", "modified_before")

    def __init__(
        self,
        *,
        conf_variable: str | None = None,
        concurrency_per_instance: int = DEFAULT_CONCURRENCY_PER_INSTANCE,
        batch_transform_above: int = DEFAULT_BATCH_TRANSFORM_ABOVE,
        modified_after: datetime | str | None = None,
        modified_before: datetime | str | None = None,
        endpoint_deadline: timedelta = DEFAULT_ENDPOINT_DEADLINE,
        **kwargs,
    ) -> None:
        """`conf_variable`: an Airflow Variable (JSON of param names) over the params, for
        scheduled runs, which have no trigger form. `concurrency_per_instance`: how many requests
        one endpoint instance serves at once; detection keeps instances x this in flight.
        `batch_transform_above`: inference `auto` runs a transform job above this many images,
        counted as `list_images` will list them (in the run's data interval, at most max_images).
        `endpoint_deadline`: how long after its creation the cost guard may remove what the run
        deployed even while the run still runs."""
        super().__init__(**kwargs)
        self.conf_variable = conf_variable
        self.concurrency_per_instance = concurrency_per_instance
        self.batch_transform_above = batch_transform_above
        self.modified_after = modified_after
        self.modified_before = modified_before
        self.endpoint_deadline = endpoint_deadline

    def execute(self, context: Context) -> dict[str, Any]:
        config = self._config(dict(context["params"]))
        self._check_labels_against_model(config)
        try:
            backend = build_review_backend(review_settings(config), connections_of(self))
            backend.check(config.labels)
        except (ReviewSetupError, ValueError) as error:
            raise AirflowFailException(f"review_backend {config.review_backend}: {error}") from error
        instances = self._check_endpoint(config.endpoint_name) if config.endpoint_name else None
        plan = RunPlan.build(
            config,
            owner=self._owner(context),
            concurrency_per_instance=self.concurrency_per_instance,
            endpoint_instances=instances,
            images=self._count_images(config) if _counts_images(config) else None,
            batch_transform_above=self.batch_transform_above,
            endpoint_deadline=self.endpoint_deadline,
        )
        self._claim_folder(plan)
        deployment = plan.deployment
        if plan.inference == BATCH_TRANSFORM:
            detection = f"batch transform jobs on model {deployment.model_name}"
        else:
            kind = "deployed" if deployment.deploys else "reused"
            detection = f"{kind} endpoint {deployment.endpoint_name}"
        self.log.info(
            "Run plan: detect with %s (inference %s, asked %s; %d requests in flight); review by %s; "
            "results under %s",
            detection,
            plan.inference,
            config.inference,
            plan.endpoint_concurrency,
            config.review_backend,
            plan.layout.uri,
        )
        return plan.to_xcom()

    def _count_images(self, config: RunConfig) -> int:
        """The run's images, counted up to one past the `auto` threshold: enough to decide."""
        limit = self.batch_transform_above + 1
        if config.max_images is not None:
            limit = min(limit, config.max_images)
        keys = image_keys(
            self.s3_hook.conn,
            config.input_bucket,
            config.input_prefix,
            limit=limit,
            modified_after=self.modified_after,
            modified_before=self.modified_before,
        )
        count = sum(1 for _ in keys)
        above = count > self.batch_transform_above
        self.log.info(
            "inference auto: %s images under %s (a transform job above %d).",
            f"more than {self.batch_transform_above:,}" if above else f"{count:,}",
            config.input_s3_uri,
            self.batch_transform_above,
        )
        return count

    @cached_property
    def s3_hook(self) -> S3Hook:
        """S3 with the task's own connection settings (`hook` is SageMaker's)."""
        return S3Hook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
        )

    def _owner(self, context: Context) -> RunOwner:
        """This run of this DAG of this Airflow deployment: what its names and folder derive from."""
        try:
            return run_owner(context)
        except ValueError as error:
            raise AirflowFailException(f"The run cannot be named: {error}") from error

    def _claim_folder(self, plan: RunPlan) -> None:
        """Write the owner file of the run's folder, or find this run's own there from an earlier
        try; refuse a folder another run owns rather than mix their files.

        The names of two runs never meet unless two Airflow deployments share a deployment_id."""
        layout, s3 = plan.layout, self.s3_hook.conn
        claimed = self._owner_file(plan)
        if claimed is None:
            try:
                # If-None-Match: of two runs claiming at once, one writes and the other reads it.
                s3.put_object(
                    Bucket=layout.bucket,
                    Key=layout.owner_key,
                    Body=json.dumps(plan.owner.to_json(), sort_keys=True).encode(),
                    ContentType="application/json",
                    IfNoneMatch="*",
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "PreconditionFailed":
                    raise
                claimed = self._owner_file(plan)
            else:
                self.log.info("Run folder %s: owner file written.", layout.uri)
                return
        problem = plan.owner.refusal(claimed)
        if problem:
            raise AirflowFailException(f"The run's folder {layout.uri} is not this run's: {problem}")
        self.log.info("Run folder %s: this run's, from an earlier try.", layout.uri)

    def _owner_file(self, plan: RunPlan) -> Any:
        """The owner file's JSON (its text when it is not JSON), or None when there is none."""
        layout = plan.layout
        try:
            body = self.s3_hook.conn.get_object(Bucket=layout.bucket, Key=layout.owner_key)["Body"].read()
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code == "NoSuchKey":
                return None
            if code == "NoSuchBucket":
                raise AirflowFailException(
                    f"output_s3_uri {plan.config.output_s3_uri}: bucket {layout.bucket} does not exist"
                ) from error
            raise
        try:
            return json.loads(body)
        except ValueError:
            return body.decode(errors="replace")

    def _check_labels_against_model(self, config: RunConfig) -> None:
        """A label the model never says would match nothing: refused, or a warning when the
        model's classes are not known here."""
        model = model_classes(config.model_package_arn)
        if model is None:
            self.log.warning(
                "The classes of model package %s are not known here: labels %s cannot be checked "
                "against what the model detects (a label it never says gives images with no box).",
                config.model_package_arn or f"(on reused endpoint {config.endpoint_name})",
                list(config.labels),
            )
            return
        problems = model.label_problems(config.labels)
        if problems:
            raise AirflowFailException("The run's labels do not match the model: " + "; ".join(problems))

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


def _counts_images(config: RunConfig) -> bool:
    """Only inference `auto` on a model of the run's own is decided by the number of images."""
    return config.inference == AUTO and config.deploys_endpoint
