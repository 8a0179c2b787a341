"""A run's detection as SageMaker Batch Transform jobs: their requests, manifests, outputs and logs.

SageMaker reads every image a manifest lists from S3 itself, sends each as one request
(SplitType None) and writes the model's answer for `<prefix><key>` as `<S3OutputPath><key>.out`.
A job sends one content type, and the GluonCV container decodes by it, so a run has one job per
content type among its images. An image the job cannot transform gets no `.out`: the job goes on
with the others, ends Failed ("ClientError: See job logs for more information"), and says why in
its data log in CloudWatch Logs (`/aws/sagemaker/TransformJobs`, stream
`<job>/<instance>-<epoch>/data-log`), one line per message: `<time>:[sagemaker logs]:
<bucket>/<key>: <message>`. SageMaker writes no failure object to S3.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hitl_detection.domain.bill import BILLED_FROM, BILLED_UNTIL
from hitl_detection.domain.images import IMAGE_CONTENT_TYPES
from hitl_detection.domain.naming import transform_job_name
from hitl_detection.domain.run_plan import RunPlan

# CreateTransformJob: MaxPayloadInMB is at most 100, and so is MaxConcurrentTransforms x MaxPayloadInMB.
MAX_PAYLOAD_MB = 100
PAYLOAD_MB_BYTES = 1024 * 1024
LOG_GROUP = "/aws/sagemaker/TransformJobs"
DATA_LOG_SUFFIX = "/data-log"
LOG_MARKER = "[sagemaker logs]: "
ENDED_STATES = frozenset({"Completed", "Failed", "Stopped"})
RUNNING_STATES = frozenset({"InProgress", "Stopping"})
CONTENT_NAMES = {content_type: content_type.split("/")[1] for content_type in IMAGE_CONTENT_TYPES.values()}
OUTPUT_SUFFIX = ".out"
MANIFEST_END = "]\n"


def transform_limits(concurrency_per_instance: int) -> tuple[int, int]:
    """(MaxConcurrentTransforms, MaxPayloadInMB): the requests one instance serves at once, and the
    largest image that leaves room for them all under SageMaker's 100 MB."""
    if isinstance(concurrency_per_instance, bool) or not isinstance(concurrency_per_instance, int):
        raise ValueError(f"concurrency_per_instance {concurrency_per_instance!r} is not an integer")
    if concurrency_per_instance < 1:
        raise ValueError(f"concurrency_per_instance {concurrency_per_instance} is below 1")
    concurrent = min(concurrency_per_instance, MAX_PAYLOAD_MB)
    return concurrent, MAX_PAYLOAD_MB // concurrent


@dataclass(frozen=True)
class TransformJob:
    """One attempt at the run's job for one content type; its files are in the run's bucket."""

    name: str
    content_type: str
    attempt: int
    bucket: str
    manifest_key: str
    output_prefix: str  # key prefix of the job's `.out` objects

    @property
    def manifest_uri(self) -> str:
        return f"s3://{self.bucket}/{self.manifest_key}"

    @property
    def output_uri(self) -> str:
        return f"s3://{self.bucket}/{self.output_prefix}"

    def output_key(self, relative_key: str) -> str:
        """Where the job writes the answer for the image at `<input prefix><relative_key>`."""
        return f"{self.output_prefix}{relative_key}{OUTPUT_SUFFIX}"


@dataclass(frozen=True)
class BatchTransform:
    """What a run's transform jobs share: the model, instances and limits, and where files go."""

    run_key: str
    bucket: str
    folder: str  # the run's work folder for transform files, ending with "/"
    input_bucket: str
    input_prefix: str
    model_name: str
    instance_type: str
    instance_count: int
    max_concurrent_transforms: int
    max_payload_mb: int

    @classmethod
    def for_plan(cls, plan: RunPlan) -> BatchTransform:
        deployment, config = plan.deployment, plan.config
        if not deployment.deploys:
            raise ValueError(
                f"the run reuses endpoint {deployment.endpoint_name}: it has no model of its own for a "
                "transform job"
            )
        concurrent, payload = transform_limits(plan.endpoint_concurrency // deployment.instance_count)
        return cls(
            run_key=plan.run_key,
            bucket=plan.layout.bucket,
            folder=f"{plan.layout.folder}work/transform/",
            input_bucket=config.input_bucket,
            input_prefix=config.input_prefix,
            model_name=deployment.model_name,
            instance_type=deployment.instance_type,
            instance_count=deployment.instance_count,
            max_concurrent_transforms=concurrent,
            max_payload_mb=payload,
        )

    @property
    def input_prefix_uri(self) -> str:
        return f"s3://{self.input_bucket}/{self.input_prefix}"

    def job(self, content_type: str, attempt: int) -> TransformJob:
        content = _content_name(content_type)
        return TransformJob(
            name=transform_job_name(self.run_key, content, attempt),
            content_type=content_type,
            attempt=attempt,
            bucket=self.bucket,
            manifest_key=f"{self.folder}{content}.manifest",
            output_prefix=f"{self.folder}{content}-{attempt}/",
        )

    def job_named(self, name: str) -> TransformJob:
        """The run's job of this name (`<base>-<content>-<attempt>`); ValueError for another's."""
        _, content, attempt = name.rsplit("-", 2) if name.count("-") >= 2 else ("", "", "")
        content_types = {short: content_type for content_type, short in CONTENT_NAMES.items()}
        if content in content_types and attempt.isdigit():
            job = self.job(content_types[content], int(attempt))
            if job.name == name:
                return job
        raise ValueError(f"transform job {name!r} is not one of run {self.run_key}")

    def request(self, job: TransformJob, tags: Sequence[Mapping[str, str]]) -> dict[str, Any]:
        """CreateTransformJob: every image of the manifest as one request of its own content type.

        `tags` (RunPlan.resource_tags) name the run, as on what it deploys."""
        return {
            "TransformJobName": job.name,
            "ModelName": self.model_name,
            "MaxConcurrentTransforms": self.max_concurrent_transforms,
            "MaxPayloadInMB": self.max_payload_mb,
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": job.manifest_uri}},
                "ContentType": job.content_type,
                "SplitType": "None",
                "CompressionType": "None",
            },
            "TransformOutput": {"S3OutputPath": job.output_uri, "Accept": "application/json"},
            "TransformResources": {"InstanceType": self.instance_type, "InstanceCount": self.instance_count},
            "Tags": list(tags),
        }

    def relative_key(self, image_key: str) -> str:
        """The image's key as the manifest lists it: relative to the input prefix."""
        if not image_key.startswith(self.input_prefix) or image_key == self.input_prefix:
            raise ValueError(f"image key {image_key!r} is not under the input prefix {self.input_prefix!r}")
        return image_key[len(self.input_prefix) :]

    def manifest_head(self) -> str:
        """A manifest is `[{"prefix": <input prefix>}, "<relative key>", ...]`: this, then an
        entry per image, then MANIFEST_END."""
        return "[" + json.dumps({"prefix": self.input_prefix_uri})

    def manifest_entry(self, image_key: str) -> str:
        return ",\n" + json.dumps(self.relative_key(image_key))


def data_log_errors(messages: Iterable[str]) -> dict[str, str]:
    """`<bucket>/<key>` -> what a job's data log says about that object, its lines joined.

    Lines that name no object (`MaxConcurrentTransforms=4, MaxPayloadInMB=25, ...`) are skipped.
    """
    found: dict[str, list[str]] = {}
    for message in messages:
        _, marker, rest = message.partition(LOG_MARKER)
        path, separator, text = rest.partition(": ")
        if not marker or not separator or "/" not in path.strip("/"):
            continue
        lines = found.setdefault(path, [])
        if text.strip():
            lines.append(text.strip())
    return {path: " ".join(lines) for path, lines in found.items()}


def job_summary(description: Mapping[str, Any]) -> dict[str, Any]:
    """A DescribeTransformJob answer as JSON for XCom: what ran, on what, and when it was billed
    (from TransformStartTime to TransformEndTime, on every instance)."""
    resources = description.get("TransformResources", {})
    return {
        "name": description["TransformJobName"],
        "status": description["TransformJobStatus"],
        "failure_reason": description.get("FailureReason"),
        "instance_type": resources.get("InstanceType"),
        "instance_count": resources.get("InstanceCount"),
        "started": _iso(description.get("TransformStartTime")),
        "ended": _iso(description.get("TransformEndTime")),
    }


def billed_window(jobs: Iterable[Mapping[str, Any]], now: datetime) -> dict[str, str | None]:
    """`billed_from` / `billed_until` (domain/bill.py) over jobs' summaries: the first start and
    the last end, `now` for one that started and has not ended (it was just stopped)."""
    started = [job["started"] for job in jobs if job["started"]]
    ended = [job["ended"] or now.isoformat() for job in jobs if job["started"]]
    return {
        BILLED_FROM: min(started, key=datetime.fromisoformat, default=None),
        BILLED_UNTIL: max(ended, key=datetime.fromisoformat, default=None),
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _content_name(content_type: str) -> str:
    if content_type not in CONTENT_NAMES:
        raise ValueError(f"content type {content_type!r} is not one of {', '.join(sorted(CONTENT_NAMES))}")
    return CONTENT_NAMES[content_type]
