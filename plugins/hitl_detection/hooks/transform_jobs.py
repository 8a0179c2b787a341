"""A run's SageMaker Batch Transform jobs: started once per content type, read back image by image.

Job names are the run's (domain/naming.py), so a retried task finds the job an earlier try
started and waits for it, instead of starting a second one that bills again. SageMaker never
frees a job's name: a job that cannot serve the run any more (stopped, or failed with no image
named in its data log, so as a whole) is followed by the next attempt.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from botocore.exceptions import ClientError

from hitl_detection.domain.batch_transform import (
    CONTENT_NAMES,
    DATA_LOG_SUFFIX,
    LOG_GROUP,
    MANIFEST_END,
    BatchTransform,
    TransformJob,
    data_log_errors,
    job_summary,
)
from hitl_detection.domain.images import TruncatedImageError, content_type_for, image_size
from hitl_detection.domain.run_plan import RunPlan
from hitl_detection.domain.stage_rows import ImageRow
from hitl_detection.hooks.aws_errors import is_missing_object, is_not_found

# An image's size is read from its first bytes, never the whole image: a PNG's header is in the
# first 33, a JPEG's after its APP segments (an EXIF thumbnail takes up to 64 KB: 8 KB, then 64 KB
# more rarely, then 512 KB ...).
HEADER_BYTES = 8 * 1024
HEADER_GROWTH = 8


class ImageGoneError(LookupError):
    """The image (or its output) is not in S3 (any more)."""


@dataclass(frozen=True)
class StartedJob:
    job: TransformJob
    description: dict[str, Any]
    reused: bool  # started by an earlier try
    images: int


class RunTransformJobs:
    """The run's jobs on SageMaker, their manifests and outputs in S3, and their data logs."""

    def __init__(
        self, setup: BatchTransform, sagemaker: SageMakerHook, s3: S3Hook, logs: AwsLogsHook
    ) -> None:
        self.setup = setup
        self.sagemaker = sagemaker
        self.s3 = s3
        self.logs = logs

    @classmethod
    def of_run(cls, plan: RunPlan, hook_parameters: Mapping[str, Any]) -> RunTransformJobs:
        """With hooks made from a task's connection settings (`AwsBaseOperator._hook_parameters`)."""
        return cls(
            BatchTransform.for_plan(plan),
            SageMakerHook(**hook_parameters),
            S3Hook(**hook_parameters),
            AwsLogsHook(**hook_parameters),
        )

    # Starting

    def start(self, rows: Iterable[ImageRow], tags: Sequence[Mapping[str, str]]) -> list[StartedJob]:
        """A job per content type among `rows` (all the run's images): the one an earlier try
        started when it can still serve the run, else a new attempt (tagged with `tags`)."""
        started = []
        with _Manifests(self.setup) as manifests:
            for row in rows:
                manifests.add(row.key)
            for content_type in manifests.content_types:
                job, description = self.latest(content_type)
                reused = description is not None and not self.spent(job, description)
                if not reused:
                    if description is not None:
                        job = self.setup.job(content_type, job.attempt + 1)
                    manifests.upload(content_type, job, self.s3)
                    self.sagemaker.create_transform_job(
                        self.setup.request(job, tags), wait_for_completion=False
                    )
                    description = self.sagemaker.describe_transform_job(job.name)
                started.append(StartedJob(job, description, reused, manifests.counts[content_type]))
        return started

    def latest(self, content_type: str) -> tuple[TransformJob, dict[str, Any] | None]:
        """The run's last attempt for the content type and its description; attempt 1 and None
        when no job was ever started."""
        attempt, found = 1, None
        while True:
            job = self.setup.job(content_type, attempt)
            try:
                description = self.sagemaker.describe_transform_job(job.name)
            except ClientError as error:
                if not is_not_found(error):
                    raise
                return found or (job, None)
            found = (job, description)
            attempt += 1

    def spent(self, job: TransformJob, description: Mapping[str, Any]) -> bool:
        """Whether the job can no longer give the run its detections: stopped, or failed with no
        image named in its data log (it failed as a whole, not image by image)."""
        status = description["TransformJobStatus"]
        if status in ("Stopping", "Stopped"):
            return True
        return status == "Failed" and not self.image_errors(job)

    def stop_running(self) -> list[dict[str, Any]]:
        """Stop the run's job of each content type that still runs (only the latest attempt may:
        the earlier ones ended); returns every job found (job_summary), a stopped one Stopping."""
        found = []
        for content_type in sorted(CONTENT_NAMES):
            job, description = self.latest(content_type)
            if description is None:
                continue
            if description["TransformJobStatus"] == "InProgress":
                self.sagemaker.conn.stop_transform_job(TransformJobName=job.name)
                description = self.sagemaker.describe_transform_job(job.name)
            found.append(job_summary(description))
        return found

    # Reading back

    def image_errors(self, job: TransformJob) -> dict[str, str]:
        """`<bucket>/<key>` -> why the job transformed no output for it, from its data log."""
        streams = []
        paginator = self.logs.conn.get_paginator("describe_log_streams")
        try:
            for page in paginator.paginate(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{job.name}/"):
                streams += [s["logStreamName"] for s in page["logStreams"]]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return {}  # no transform job of the account ever logged
            raise
        messages = (
            event["message"]
            for stream in streams
            if stream.endswith(DATA_LOG_SUFFIX)
            for event in self.logs.get_log_events(LOG_GROUP, stream, start_from_head=True)
        )
        return data_log_errors(messages)

    def output(self, job: TransformJob, image_key: str) -> bytes:
        """The model's answer for the image; ImageGoneError when the job wrote none."""
        key = job.output_key(self.setup.relative_key(image_key))
        try:
            return self.s3.conn.get_object(Bucket=job.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if is_missing_object(error):
                raise ImageGoneError(f"s3://{job.bucket}/{key}") from error
            raise

    def image_size(self, bucket: str, key: str) -> tuple[int, int]:
        """(width, height) from the image's first bytes; ImageGoneError when it is not in S3."""
        length = HEADER_BYTES
        while True:
            try:
                answer = self.s3.conn.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{length - 1}")
            except ClientError as error:
                if is_missing_object(error):
                    raise ImageGoneError(f"s3://{bucket}/{key}") from error
                if error.response.get("Error", {}).get("Code") != "InvalidRange":
                    raise
                return image_size(b"", content_type_for(key))  # an empty object has no byte 0
            data = answer["Body"].read()
            total = int(answer.get("ContentRange", f"/{len(data)}").rsplit("/", 1)[1])
            try:
                return image_size(data, content_type_for(key))
            except TruncatedImageError:
                if len(data) >= total:
                    raise
            length *= HEADER_GROWTH


class _Manifests:
    """One manifest per content type, written to temporary files as the rows stream past."""

    def __init__(self, setup: BatchTransform) -> None:
        self.setup = setup
        self.counts: dict[str, int] = {}
        self._files: dict[str, IO[bytes]] = {}

    @property
    def content_types(self) -> list[str]:
        return sorted(self._files)

    def add(self, image_key: str) -> None:
        content_type = content_type_for(image_key)
        if content_type not in self._files:
            self._files[content_type] = tempfile.TemporaryFile()  # noqa: SIM115 (closed by __exit__)
            self._files[content_type].write(self.setup.manifest_head().encode())
            self.counts[content_type] = 0
        self._files[content_type].write(self.setup.manifest_entry(image_key).encode())
        self.counts[content_type] += 1

    def upload(self, content_type: str, job: TransformJob, s3: S3Hook) -> None:
        file = self._files[content_type]
        file.write(MANIFEST_END.encode())
        file.seek(0)
        s3.load_file_obj(file, key=job.manifest_key, bucket_name=job.bucket, replace=True)

    def __enter__(self) -> _Manifests:
        return self

    def __exit__(self, *_: object) -> None:
        for file in self._files.values():
            file.close()
