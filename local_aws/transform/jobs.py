"""The transform job calls of the SageMaker API, and ListTags of a job: jobs kept here, run by
transform/runner.py.

Statuses follow SageMaker: `InProgress` from creation, then `Completed`, or `Failed` (an object
failed, see the runner, or the job as a whole: a fault armed on `RunTransformJob`), or `Stopping`
from StopTransformJob until the running objects are done, then `Stopped`. The model must exist
in moto; names are unique forever, as SageMaker never frees a transform job's name.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local_aws.a2i.validation import OperationInput, invalid
from local_aws.core.arns import sagemaker_arn
from local_aws.core.errors import ApiError
from local_aws.core.pagination import paginate
from local_aws.core.server import LeftToMoto, Operation
from local_aws.core.timestamps import parse_epoch, to_epoch, utc_now
from local_aws.transform.runner import DEFAULT_MAX_PAYLOAD_MB, JobRunner, JobWork

log = logging.getLogger(__name__)

CREATE = OperationInput("sagemaker", "CreateTransformJob")
LIST = OperationInput("sagemaker", "ListTransformJobs")
NAME = OperationInput("sagemaker", "DescribeTransformJob")
TAGS = OperationInput("sagemaker", "ListTags")
# "The value of MaxPayloadInMB cannot be greater than 100 MB", nor MaxConcurrentTransforms times it.
MAX_PAYLOAD_MB = 100
ENDED = ("Completed", "Failed", "Stopped")

ModelLookup = Callable[[str], Any]
"""model name -> moto's model, or None when there is none."""


@dataclass
class TransformJob:
    name: str
    arn: str
    request: dict[str, Any]
    work: JobWork
    creation_time: datetime = field(default_factory=utc_now)
    status: str = "InProgress"
    failure_reason: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> dict[str, Any]:
        request = self.request
        description = {
            "TransformJobName": self.name,
            "TransformJobArn": self.arn,
            "TransformJobStatus": self.status,
            "ModelName": request["ModelName"],
            "MaxConcurrentTransforms": self.work.max_concurrent,
            "MaxPayloadInMB": self.work.max_payload_mb,
            "TransformInput": request["TransformInput"],
            "TransformOutput": request["TransformOutput"],
            "TransformResources": request["TransformResources"],
            "CreationTime": to_epoch(self.creation_time),
        }
        optional = {
            "FailureReason": self.failure_reason,
            "BatchStrategy": request.get("BatchStrategy"),
            "Environment": request.get("Environment"),
            "TransformStartTime": self.start_time and to_epoch(self.start_time),
            "TransformEndTime": self.end_time and to_epoch(self.end_time),
        }
        return description | {key: value for key, value in optional.items() if value is not None}

    def summary(self) -> dict[str, Any]:
        summary = {
            "TransformJobName": self.name,
            "TransformJobArn": self.arn,
            "CreationTime": to_epoch(self.creation_time),
            "TransformJobStatus": self.status,
        }
        if self.end_time:
            summary["TransformEndTime"] = to_epoch(self.end_time)
        if self.failure_reason:
            summary["FailureReason"] = self.failure_reason
        return summary


class TransformJobs:
    """The account's transform jobs in one region, in memory; each running in a thread of its own."""

    def __init__(self, region: str, model: ModelLookup, runner: JobRunner) -> None:
        self.region = region
        self.model = model
        self.runner = runner
        self._lock = threading.Lock()
        self._jobs: dict[str, TransformJob] = {}

    @property
    def operations(self) -> dict[str, Operation]:
        """The SageMaker targets this module answers, by operation name."""
        return {
            "CreateTransformJob": self.create,
            "DescribeTransformJob": self.describe,
            "StopTransformJob": self.stop,
            "ListTransformJobs": self.list_jobs,
            "ListTags": self.list_tags,
        }

    def reset(self) -> None:
        """Forget every job; running ones are told to stop and their ends are not recorded."""
        with self._lock:
            for job in self._jobs.values():
                job.stop.set()
            self._jobs.clear()

    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        name = CREATE.string(params.get("TransformJobName"), "TransformJobName")
        work = _work(name, params)
        model_name = CREATE.string(params.get("ModelName"), "ModelName")
        if self.model(model_name) is None:
            raise ApiError(
                "ValidationException",
                f'Could not find model "{sagemaker_arn(self.region, "model", model_name)}".',
            )
        arn = sagemaker_arn(self.region, "transform-job", name.lower())
        with self._lock:
            if name in self._jobs:
                raise ApiError(
                    "ResourceInUse",
                    f"Job name must be unique within an AWS account and region, and a job with this name "
                    f"already exists ({arn})",
                )
            job = TransformJob(name, arn, dict(params), work)
            job.start_time = utc_now()
            self._jobs[name] = job
        thread = threading.Thread(target=self._run, args=(job,), name=f"transform-{name}"[:40], daemon=True)
        thread.start()
        log.info(
            "CreateTransformJob %s: %s x %d, %d at once",
            name,
            work.content_type,
            work.instance_count,
            self.runner.workers(work),
        )
        return {"TransformJobArn": arn}

    def describe(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._job(params).describe()

    def stop(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self._job(params)
        with self._lock:
            if job.status in ENDED:
                raise ApiError(
                    "ValidationException",
                    f"Transform job {job.name} is {job.status}: only an InProgress job can be stopped.",
                )
            job.status = "Stopping"
            job.stop.set()
        log.info("StopTransformJob %s", job.name)
        return {}

    def list_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            jobs = list(self._jobs.values())
        contains = LIST.string(params.get("NameContains"), "NameContains", required=False)
        status = LIST.enum(params.get("StatusEquals"), "StatusEquals")
        jobs = [
            job
            for job in jobs
            if (contains is None or contains.lower() in job.name.lower()) and status in (None, job.status)
        ]
        for bound, keep in (
            ("CreationTimeAfter", lambda a, b: a > b),
            ("CreationTimeBefore", lambda a, b: a < b),
        ):
            if params.get(bound) is not None:
                moment = parse_epoch(params[bound], bound)
                jobs = [job for job in jobs if keep(job.creation_time, moment)]
        page, token = paginate(
            jobs,
            sort_order=LIST.enum(params.get("SortOrder"), "SortOrder"),
            max_results=LIST.integer(params.get("MaxResults"), "MaxResults"),
            next_token=LIST.string(params.get("NextToken"), "NextToken", required=False),
        )
        return {
            "TransformJobSummaries": [job.summary() for job in page],
            **({"NextToken": token} if token else {}),
        }

    def list_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        """The tags a job was created with, in one page: a job has at most 50 and a page takes at least
        50, so no NextToken is ever issued. The tags of anything but a transform job are moto's."""
        arn = params.get("ResourceArn")
        if not (isinstance(arn, str) and arn.partition("/")[0].endswith(":transform-job")):
            raise LeftToMoto
        TAGS.string(arn, "ResourceArn")
        TAGS.integer(params.get("MaxResults"), "MaxResults")
        TAGS.string(params.get("NextToken"), "NextToken", required=False)
        with self._lock:
            job = next((job for job in self._jobs.values() if job.arn == arn), None)
        if job is None:
            raise ApiError("ValidationException", f"Could not find transform job {arn}")
        return {"Tags": job.request.get("Tags", [])}

    def _job(self, params: dict[str, Any]) -> TransformJob:
        name = NAME.string(params.get("TransformJobName"), "TransformJobName")
        with self._lock:
            job = self._jobs.get(name)
        if job is None:
            raise ApiError("ValidationException", f"Could not find requested job with name {name}")
        return job

    def _run(self, job: TransformJob) -> None:
        def report(status: str, failure_reason: str | None) -> None:
            with self._lock:
                if self._jobs.get(job.name) is not job:
                    return  # reset meanwhile
                job.status, job.failure_reason, job.end_time = status, failure_reason, utc_now()
            log.info(
                "Transform job %s is %s%s", job.name, status, f": {failure_reason}" if failure_reason else ""
            )

        try:
            self.runner.run(job.work, job.stop, report)
        except Exception as error:  # the stand-in's own failure: the job fails, the server lives on
            log.exception("Transform job %s crashed", job.name)
            report("Failed", f"InternalServerError: the stand-in failed: {type(error).__name__}: {error}")


def _work(name: str, params: dict[str, Any]) -> JobWork:
    """The request's members the stand-in acts on, checked as SageMaker checks them."""
    source = CREATE.structure(params.get("TransformInput"), "TransformInput")
    data = CREATE.structure(source.get("DataSource"), "TransformInput.DataSource")
    s3 = CREATE.structure(data.get("S3DataSource"), "TransformInput.DataSource.S3DataSource")
    data_type = CREATE.enum(
        s3.get("S3DataType"), "TransformInput.DataSource.S3DataSource.S3DataType", required=True
    )
    source_uri = CREATE.string(s3.get("S3Uri"), "TransformInput.DataSource.S3DataSource.S3Uri")
    if data_type not in ("ManifestFile", "S3Prefix"):
        raise invalid(
            "TransformInput.DataSource.S3DataSource.S3DataType",
            data_type,
            "the stand-in reads ManifestFile and S3Prefix only",
        )
    split = CREATE.enum(source.get("SplitType"), "TransformInput.SplitType")
    if split not in (None, "None"):
        raise invalid(
            "TransformInput.SplitType", split, "the stand-in sends each object whole (SplitType None)"
        )
    content_type = CREATE.string(source.get("ContentType"), "TransformInput.ContentType", required=False)
    output = CREATE.structure(params.get("TransformOutput"), "TransformOutput")
    output_uri = CREATE.string(output.get("S3OutputPath"), "TransformOutput.S3OutputPath")
    for path, uri in (
        ("TransformInput.DataSource.S3DataSource.S3Uri", source_uri),
        ("TransformOutput.S3OutputPath", output_uri),
    ):
        if not uri.startswith("s3://"):
            raise invalid(path, uri, "the stand-in reads and writes s3:// URIs only")
    resources = CREATE.structure(params.get("TransformResources"), "TransformResources")
    CREATE.enum(resources.get("InstanceType"), "TransformResources.InstanceType", required=True)
    instances = CREATE.integer(
        resources.get("InstanceCount"), "TransformResources.InstanceCount", required=True
    )
    concurrent = CREATE.integer(params.get("MaxConcurrentTransforms"), "MaxConcurrentTransforms") or 1
    payload = CREATE.integer(params.get("MaxPayloadInMB"), "MaxPayloadInMB")
    payload = DEFAULT_MAX_PAYLOAD_MB if payload is None else payload
    if payload > MAX_PAYLOAD_MB:
        raise invalid(
            "MaxPayloadInMB", payload, f"Member must have value less than or equal to {MAX_PAYLOAD_MB}"
        )
    if concurrent * payload > MAX_PAYLOAD_MB:
        raise ApiError(
            "ValidationException",
            f"MaxConcurrentTransforms ({concurrent}) x MaxPayloadInMB ({payload}) is over "
            f"{MAX_PAYLOAD_MB} MB.",
        )
    if payload == 0:
        raise invalid("MaxPayloadInMB", payload, "the stand-in does not stream payloads (MaxPayloadInMB 0)")
    return JobWork(
        name=name,
        data_type=data_type,
        source_uri=source_uri,
        content_type=content_type or "application/octet-stream",
        output_uri=output_uri,
        instance_count=instances,
        max_concurrent=concurrent,
        max_payload_mb=payload,
    )
