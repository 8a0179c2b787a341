"""What a run will do, decided once in its first task and read by every other task.

The plan is typed (frozen dataclasses) and has one codec, `to_xcom` / `RunPlan.from_xcom`, so that
no task reads it by string keys. It holds the checked config, where the run's files go, the
endpoint to use (and, when the run deploys one, the names and requests of its model, endpoint
config and endpoint) and how many requests the endpoint serves at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from hitl_detection.domain.inference import DEFAULT_BATCH_TRANSFORM_ABOVE, ENDPOINT, resolve_inference
from hitl_detection.domain.naming import deployment_names, run_folder
from hitl_detection.domain.run_config import RunConfig
from hitl_detection.domain.run_owner import RunOwner

VARIANT_NAME = "detector"
# How many images a stage file holds. A retried detection re-sends at most one shard's images, and
# a stage keeps at most one shard of rows in memory.
SHARD_SIZE = 100
STAGES = ("images", "detections", "reviews", "records")
# How long after its creation the cost guard may remove what a run deployed, even mid-run.
DEFAULT_ENDPOINT_DEADLINE = timedelta(hours=24)


@dataclass(frozen=True)
class RunLayout:
    """Where a run keeps its files in S3, all under one folder unique to the run.

    Stages hand rows to each other through shard files, so that XCom carries only counts, and a
    retried or cleared task overwrites what it wrote before instead of adding to it.
    """

    bucket: str
    folder: str  # the run's key prefix, ending with "/"

    @classmethod
    def for_run(cls, output_bucket: str, output_prefix: str, run_key: str) -> RunLayout:
        return cls(bucket=output_bucket, folder=f"{output_prefix}{run_folder(run_key)}/")

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.folder}"

    @property
    def results_key(self) -> str:
        return f"{self.folder}results.jsonl"

    @property
    def summary_key(self) -> str:
        return f"{self.folder}summary.json"

    @property
    def owner_key(self) -> str:
        """The file naming the run that owns the folder (RunOwner.to_json)."""
        return f"{self.folder}owner.json"

    def stage_prefix(self, stage: str) -> str:
        if stage not in STAGES:
            raise ValueError(f"stage {stage!r} is not one of {', '.join(STAGES)}")
        return f"{self.folder}work/{stage}/"

    def shard_key(self, stage: str, shard: int) -> str:
        """One file per stage and shard of images: `images`, `detections`, `reviews`, `records`."""
        return f"{self.stage_prefix(stage)}shard-{shard:05d}.jsonl"

    def shard_of(self, stage: str, key: str) -> int | None:
        """The shard number of a stage file's key; None for a key that is not one."""
        name = key.removeprefix(self.stage_prefix(stage))
        number = name.removeprefix("shard-").removesuffix(".jsonl")
        if name == key or f"shard-{number}.jsonl" != name or not number.isdigit():
            return None
        return int(number)


@dataclass(frozen=True)
class Deployment:
    """The endpoint a run detects with; `deploys` when the run creates (and deletes) it itself."""

    deploys: bool
    endpoint_name: str
    endpoint_config_name: str | None
    model_name: str | None
    model_package_arn: str | None
    execution_role_arn: str | None
    instance_type: str
    instance_count: int

    @classmethod
    def for_run(cls, config: RunConfig, run_key: str) -> Deployment:
        common = {"instance_type": config.instance_type, "instance_count": config.instance_count}
        if not config.deploys_endpoint:
            return cls(
                deploys=False,
                endpoint_name=config.endpoint_name,
                endpoint_config_name=None,
                model_name=None,
                model_package_arn=None,
                execution_role_arn=None,
                **common,
            )
        names = deployment_names(run_key)
        return cls(
            deploys=True,
            endpoint_name=names.endpoint,
            endpoint_config_name=names.endpoint_config,
            model_name=names.model,
            model_package_arn=config.model_package_arn,
            execution_role_arn=config.execution_role_arn,
            **common,
        )

    def model_request(self, tags: Sequence[Mapping[str, str]]) -> dict[str, Any]:
        """CreateModel, with the network isolation AWS Marketplace model packages require.

        `tags` (RunPlan.resource_tags) name the run, for the cost guard; likewise below."""
        return {
            "ModelName": self._deployed("model_name"),
            "PrimaryContainer": {"ModelPackageName": self.model_package_arn},
            "ExecutionRoleArn": self.execution_role_arn,
            "EnableNetworkIsolation": True,
            "Tags": list(tags),
        }

    def endpoint_config_request(self, tags: Sequence[Mapping[str, str]]) -> dict[str, Any]:
        return {
            "EndpointConfigName": self._deployed("endpoint_config_name"),
            "ProductionVariants": [
                {
                    "VariantName": VARIANT_NAME,
                    "ModelName": self.model_name,
                    "InitialInstanceCount": self.instance_count,
                    "InstanceType": self.instance_type,
                }
            ],
            "Tags": list(tags),
        }

    def endpoint_request(self, tags: Sequence[Mapping[str, str]]) -> dict[str, Any]:
        return {
            "EndpointName": self.endpoint_name,
            "EndpointConfigName": self._deployed("endpoint_config_name"),
            "Tags": list(tags),
        }

    def _deployed(self, name: str) -> str:
        if not self.deploys:
            raise ValueError(f"the run reuses endpoint {self.endpoint_name}: it deploys no {name}")
        return getattr(self, name)


@dataclass(frozen=True)
class RunPlan:
    """Everything the tasks of one run agree on.

    `run_key` names the run's resources and files (loops, endpoint, folder): the same on every
    try of the run, distinct between runs, DAGs and Airflow deployments (`owner`, also written in
    the tags of what the run deploys and in its folder's owner file; None in a plan made before
    runs had owners, whose key is its run id). `endpoint_concurrency` is how many requests detection
    keeps in flight: the endpoint's instances times what one instance serves at once (a transform
    job sends each of its instances as many). `inference` is how the run detects, resolved:
    `endpoint` or `batch_transform` (the config keeps what was asked, which may be `auto`).
    """

    run_key: str
    run_id: str
    owner: RunOwner | None
    config: RunConfig
    layout: RunLayout
    deployment: Deployment
    endpoint_concurrency: int
    endpoint_deadline_seconds: int
    inference: str

    @classmethod
    def build(
        cls,
        config: RunConfig,
        *,
        owner: RunOwner,
        concurrency_per_instance: int,
        endpoint_instances: int | None = None,
        images: int | None = None,
        batch_transform_above: int = DEFAULT_BATCH_TRANSFORM_ABOVE,
        endpoint_deadline: timedelta = DEFAULT_ENDPOINT_DEADLINE,
    ) -> RunPlan:
        """`endpoint_instances`: the instances a reused endpoint reports (default: the config's).
        `images`: how many images the run takes, which inference `auto` decides by."""
        if concurrency_per_instance < 1:
            raise ValueError(f"concurrency_per_instance {concurrency_per_instance} is below 1")
        if endpoint_deadline <= timedelta(0):
            raise ValueError(f"endpoint_deadline {endpoint_deadline} is not positive")
        run_key = owner.run_key
        instances = endpoint_instances or config.instance_count
        return cls(
            run_key=run_key,
            run_id=owner.run_id,
            owner=owner,
            config=config,
            layout=RunLayout.for_run(config.output_bucket, config.output_prefix, run_key),
            deployment=Deployment.for_run(config, run_key),
            endpoint_concurrency=instances * concurrency_per_instance,
            endpoint_deadline_seconds=int(endpoint_deadline.total_seconds()),
            inference=resolve_inference(
                config.inference,
                reuses_endpoint=not config.deploys_endpoint,
                images=images,
                batch_transform_above=batch_transform_above,
            ),
        )

    def resource_tags(self, now: datetime) -> list[dict[str, str]]:
        """The tags of a model, endpoint config or endpoint the run creates at `now`: its owner,
        and the deadline after which the cost guard removes it even while the run still runs."""
        if self.owner is None:
            return []
        return self.owner.tags(now + timedelta(seconds=self.endpoint_deadline_seconds))

    def to_xcom(self) -> dict[str, Any]:
        """Plain JSON; the params are the config's serialised form."""
        return {
            "run_key": self.run_key,
            "run_id": self.run_id,
            "owner": self.owner.to_json() if self.owner else None,
            "params": self.config.to_params(),
            "layout": {"bucket": self.layout.bucket, "folder": self.layout.folder},
            "deployment": {field.name: getattr(self.deployment, field.name) for field in fields(Deployment)},
            "endpoint_concurrency": self.endpoint_concurrency,
            "endpoint_deadline_seconds": self.endpoint_deadline_seconds,
            "inference": self.inference,
        }

    @classmethod
    def from_xcom(cls, data: Mapping[str, Any]) -> RunPlan:
        if not isinstance(data, Mapping) or "params" not in data:
            raise ValueError(f"a run plan is a JSON object made by RunPlan.to_xcom; got {str(data)[:80]!r}")
        return cls(
            run_key=data["run_key"],
            run_id=data["run_id"],
            owner=RunOwner.from_json(data["owner"]) if data.get("owner") else None,
            config=RunConfig.from_params(data["params"]),
            layout=RunLayout(**data["layout"]),
            deployment=Deployment(**data["deployment"]),
            endpoint_concurrency=data["endpoint_concurrency"],
            endpoint_deadline_seconds=data.get(
                "endpoint_deadline_seconds", int(DEFAULT_ENDPOINT_DEADLINE.total_seconds())
            ),
            inference=data.get("inference", ENDPOINT),  # plans made before inference modes
        )
