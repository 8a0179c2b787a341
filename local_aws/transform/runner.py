"""Running one transform job as SageMaker does, over moto's S3 and CloudWatch Logs.

Each object of the job's manifest (or S3 prefix) is read from S3 and sent whole (SplitType None)
to the simulated detector with the job's content type, at most `InstanceCount` x
`MaxConcurrentTransforms` at once (and never more than the stand-in's model capacity), each taking
the detector's latency; its answer goes to `<S3OutputPath>/<key relative to the prefix>.out`. An
object the model refuses, or one over `MaxPayloadInMB`, gets no `.out`; the job goes on with the
others and ends Failed with "ClientError: See job logs for more information". Why is in the job's
data log, `/aws/sagemaker/TransformJobs` stream `<job>/<instance>-<epoch>/data-log`, as lines
`<time>:[sagemaker logs]: <bucket>/<key>: <message>` (ClientError: <status>, Message:, the model's
message). SageMaker writes no failure object to S3, and neither does this.

The wording of the lines past `ClientError: <status>` is the stand-in's own. A stopped job keeps
the outputs it wrote (SageMaker documents that it stores none; the pipeline reads none of a
stopped job).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from local_aws.core.errors import ApiError
from local_aws.core.timestamps import utc_now
from local_aws.endpoint.detector import SimulatedDetector, UnsupportedContentTypeError

log = logging.getLogger(__name__)

LOG_GROUP = "/aws/sagemaker/TransformJobs"
DEFAULT_MAX_PAYLOAD_MB = 6
PAYLOAD_MB_BYTES = 1024 * 1024
FAILED_RECORDS = "ClientError: See job logs for more information"
_LOG_BATCH = 1000


@dataclass(frozen=True)
class JobWork:
    """What a job was asked to do (its CreateTransformJob request, checked)."""

    name: str
    data_type: str  # ManifestFile or S3Prefix
    source_uri: str
    content_type: str
    output_uri: str
    instance_count: int
    max_concurrent: int
    max_payload_mb: int


class JobRunner:
    """Runs jobs in threads of their own; `report(name, status, failure_reason)` records the end."""

    def __init__(
        self,
        s3: Any,
        logs: Any,
        detector: SimulatedDetector,
        capacity: int | None,
        check_fault: Callable[[str], None],
    ) -> None:
        self.s3 = s3
        self.logs = logs
        self.detector = detector
        self.capacity = capacity
        self.check_fault = check_fault

    def workers(self, work: JobWork) -> int:
        parallel = work.instance_count * work.max_concurrent
        return parallel if self.capacity is None else min(parallel, self.capacity)

    def run(self, work: JobWork, stop: threading.Event, report: Callable[[str, str | None], None]) -> None:
        """The job from start to end; `report(status, failure_reason)` once at the end."""
        try:
            # A fault armed on "RunTransformJob" (not an AWS operation) fails the next job as a whole.
            self.check_fault("RunTransformJob")
            objects = list(self._objects(work))
        except ApiError as error:
            report("Failed", f"{error.code}: {error.message}")
            return
        instances = [_instance_id(work.name, index) for index in range(work.instance_count)]
        epoch = int(time.time())
        lines: dict[str, list[str]] = {instance: [] for instance in instances}
        settings = (
            f"MaxConcurrentTransforms={work.max_concurrent}, MaxPayloadInMB={work.max_payload_mb}, "
            "BatchStrategy=SINGLE_RECORD"
        )
        for instance in instances:
            lines[instance].append(f"{_now()}:[sagemaker logs]: {settings}")
        lock = threading.Lock()
        failed = 0

        def transform(item: tuple[int, tuple[str, str, str]]) -> None:
            nonlocal failed
            index, (bucket, key, relative) = item
            if stop.is_set():
                return
            problem = self._transform(work, bucket, key, relative)
            if problem is not None:
                status, message = problem
                path = f"{bucket}/{key}"
                with lock:
                    failed += 1
                    lines[instances[index % len(instances)]].extend(
                        f"{_now()}:[sagemaker logs]: {path}: {text}"
                        for text in (f"ClientError: {status}", "", "Message:", message)
                    )

        with ThreadPoolExecutor(max_workers=self.workers(work), thread_name_prefix=work.name[:20]) as pool:
            list(pool.map(transform, enumerate(objects)))
        self._write_log(work.name, epoch, lines)
        if stop.is_set():
            report("Stopped", None)
        elif failed:
            report("Failed", FAILED_RECORDS)
        else:
            report("Completed", None)
        log.info("Transform job %s: %d objects, %d failed", work.name, len(objects), failed)

    def _objects(self, work: JobWork) -> Iterator[tuple[str, str, str]]:
        """(bucket, key, key relative to the prefix) of every object the job transforms."""
        if work.data_type == "S3Prefix":
            bucket, prefix = _split(work.source_uri)
            pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", ()):
                    yield bucket, item["Key"], item["Key"][len(prefix) :]
            return
        bucket, key = _split(work.source_uri)
        try:
            manifest = json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except (ClientError, ValueError) as error:
            raise ApiError(
                "ClientError", f"the manifest {work.source_uri} could not be read: {error}"
            ) from None
        head = manifest[0] if isinstance(manifest, list) and manifest else None
        if not isinstance(head, dict) or not isinstance(head.get("prefix"), str):
            raise ApiError(
                "ClientError", f'the manifest {work.source_uri} does not start with {{"prefix": "s3://..."}}'
            )
        bucket, prefix = _split(head["prefix"])
        for relative in manifest[1:]:
            if not isinstance(relative, str):
                raise ApiError("ClientError", f"the manifest {work.source_uri} lists {relative!r}, not a key")
            yield bucket, prefix + relative, relative

    def _transform(self, work: JobWork, bucket: str, key: str, relative: str) -> tuple[int, str] | None:
        """One object: its output written, or (status, message) for the data log."""
        try:
            body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            return 404, f"the object could not be read: {error.response.get('Error', {}).get('Code')}"
        limit = work.max_payload_mb * PAYLOAD_MB_BYTES
        if len(body) > limit:
            return 413, f"the object has {len(body)} bytes, over MaxPayloadInMB {work.max_payload_mb}"
        try:
            detections = self.detector.detect(body, work.content_type)
        except UnsupportedContentTypeError as error:
            return 415, str(error)
        except ValueError as error:
            return 400, str(error)
        out_bucket, out_prefix = _split(work.output_uri)
        if out_prefix and not out_prefix.endswith("/"):
            out_prefix += "/"
        self.s3.put_object(
            Bucket=out_bucket, Key=f"{out_prefix}{relative}.out", Body=json.dumps(detections).encode()
        )
        return None

    def _write_log(self, job: str, epoch: int, lines: dict[str, list[str]]) -> None:
        try:
            self.logs.create_log_group(logGroupName=LOG_GROUP)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                raise
        for instance, messages in lines.items():
            stream = f"{job}/{instance}-{epoch}/data-log"
            self.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
            now = int(time.time() * 1000)
            for start in range(0, len(messages), _LOG_BATCH):
                events = [{"timestamp": now, "message": m} for m in messages[start : start + _LOG_BATCH]]
                self.logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _instance_id(job: str, index: int) -> str:
    return "i-" + hashlib.sha256(f"{job}/{index}".encode()).hexdigest()[:17]


def _now() -> str:
    moment = utc_now()
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}"
