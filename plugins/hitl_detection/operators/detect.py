"""Detect objects in every image of a run and gate each answer, with an endpoint or a transform job."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import cached_property
from itertools import groupby
from operator import itemgetter
from typing import Any

from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowException
from botocore.exceptions import ClientError

from hitl_detection.domain.batch_transform import TransformJob, billed_window
from hitl_detection.domain.detector_output import DetectorOutputError, parse_detections
from hitl_detection.domain.gating import gate_detections
from hitl_detection.domain.images import ImageError, check_payload_size, content_type_for, image_size
from hitl_detection.domain.inference import BATCH_TRANSFORM
from hitl_detection.domain.s3_uri import parse_s3_uri
from hitl_detection.domain.stage_rows import ImageRow
from hitl_detection.domain.streams import ordered_map
from hitl_detection.hooks.aws_errors import is_missing_object
from hitl_detection.hooks.sagemaker_runtime import EndpointModelError, SageMakerRuntimeHook
from hitl_detection.hooks.transform_jobs import ImageGoneError, RunTransformJobs
from hitl_detection.operators.base import RunOperator
from hitl_detection.triggers.transform import TransformJobsEndedTrigger

# Connections kept beyond the requests in flight, for the shard files read and written meanwhile.
SPARE_CONNECTIONS = 4
# A transform job's outputs and image headers are read this many at once (two small GETs an image).
OUTPUT_READERS = 16
# Longer than a transform job over 100,000 images takes, short of a stuck one.
TRANSFORM_DEADLINE = timedelta(hours=24)
GONE = "the image is no longer in S3"


class DetectObjectsOperator(RunOperator):
    """Detect objects in every image of the run and gate what the model said, image by image.

    With inference `endpoint`, every image is sent to the endpoint as stored, with the plan's
    `endpoint_concurrency` requests kept in flight across the whole run (what the endpoint can
    serve at once), so detection goes at the endpoint's own bound.

    With inference `batch_transform`, the task writes a manifest of the run's images per content
    type, starts a transform job for each (or finds the one an earlier try started), waits in the
    triggerer until they end, then reads each image's `.out` and the first bytes of the image (for
    its size), never the image itself.

    Either way rows are written per shard; a retried task skips the shards an earlier try wrote.
    A bad image or a malformed answer fails that image (its row carries the error); a failure of
    the endpoint or of a job as a whole fails the task, since every image would fail the same way.
    Returns counts, and in transform mode the jobs (`transform_jobs`: name, status, instance type
    and count, TransformStartTime and TransformEndTime) and the window they billed in
    (`billed_from`, `billed_until`, for the run's bill).
    """

    def __init__(self, *, poll_interval: float = 60, **kwargs: Any) -> None:
        """`poll_interval`: seconds between looks at a running transform job."""
        super().__init__(**kwargs)
        self.poll_interval = poll_interval

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "config": self._botocore_config()}

    def _botocore_config(self) -> dict[str, Any]:
        pool = max(self.run_plan.endpoint_concurrency, OUTPUT_READERS) + SPARE_CONNECTIONS
        return {"max_pool_connections": pool, **(self.botocore_config or {})}

    @cached_property
    def runtime(self) -> SageMakerRuntimeHook:
        return SageMakerRuntimeHook(**self._hook_parameters)

    @cached_property
    def transform_jobs(self) -> RunTransformJobs:
        return RunTransformJobs.of_run(self.run_plan, self._hook_parameters)

    def execute(self, context: Context) -> dict[str, Any]:
        plan = self.run_plan
        if plan.inference == BATCH_TRANSFORM:
            return self._start_transform_jobs()
        self.log.info(
            "Detecting objects with endpoint %s, %d requests in flight.",
            plan.deployment.endpoint_name,
            plan.endpoint_concurrency,
        )
        for hook in (self.hook, self.runtime):
            hook.get_conn()  # build the clients before the threads share them
        return self._detect_shards(self._invoke_endpoint, workers=plan.endpoint_concurrency)

    # The endpoint

    def _invoke_endpoint(self, row: ImageRow) -> ImageRow:
        bucket, key = parse_s3_uri(row.s3_uri)
        content_type = content_type_for(key)
        try:
            # One GetObject; S3Hook.get_key would send a HeadObject first.
            body = self.hook.conn.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if not is_missing_object(error):
                raise
            return row.failed(GONE)
        try:
            check_payload_size(body)
            size = image_size(body, content_type)
            answer = self.runtime.invoke_endpoint(self.run_plan.deployment.endpoint_name, body, content_type)
        except (ImageError, EndpointModelError) as error:
            return row.failed(f"{type(error).__name__}: {error}")
        return self._gated(row, answer, size)

    # Transform jobs

    def _start_transform_jobs(self) -> dict[str, Any]:
        """Even when an earlier try wrote every shard, the jobs are found again: the task's result
        names them, for what they cost."""
        files = self.stage_files
        rows = (row for shard in files.shards("images") for row in files.read_rows("images", shard))
        started = self.transform_jobs.start(rows, self.run_plan.resource_tags(datetime.now(UTC)))
        for item in started:
            self.log.info(
                "Transform job %s (%s): %s, %d %s images on %d x %s.",
                item.job.name,
                "from an earlier try" if item.reused else "started",
                item.description["TransformJobStatus"],
                item.images,
                item.job.content_type,
                self.run_plan.deployment.instance_count,
                self.run_plan.deployment.instance_type,
            )
        self.defer(
            trigger=TransformJobsEndedTrigger.for_task(
                self,
                job_names=[item.job.name for item in started],
                deadline=(datetime.now(UTC) + TRANSFORM_DEADLINE).isoformat(),
                poll_interval=self.poll_interval,
            ),
            method_name="execute_complete",
            timeout=TRANSFORM_DEADLINE + timedelta(minutes=5),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """The jobs ended: gate each image's output; one without output fails with the job's reason."""
        event = validate_execute_complete_event(event)
        if event["status"] != "success":
            raise AirflowException(event["message"])
        transform = self.transform_jobs
        by_content: dict[str, tuple[TransformJob, dict[str, Any], dict[str, str]]] = {}
        for summary in event["jobs"]:
            job = transform.setup.job_named(summary["name"])
            errors = transform.image_errors(job) if summary["status"] == "Failed" else {}
            if summary["status"] == "Stopped" or (summary["status"] == "Failed" and not errors):
                reason = summary["failure_reason"] or "no FailureReason given"
                raise AirflowException(
                    f"transform job {job.name} is {summary['status']} ({reason}) and named no image in its "
                    f"data log: it failed as a whole. A retry of this task starts attempt {job.attempt + 1}."
                )
            self.log.info(
                "Transform job %s is %s%s.",
                job.name,
                summary["status"],
                f": {len(errors)} images failed ({summary['failure_reason']})" if errors else "",
            )
            by_content[job.content_type] = (job, summary, errors)
        transform.s3.get_conn()  # build the client before the threads share it
        counts = self._detect_shards(lambda row: self._read_output(row, by_content), workers=OUTPUT_READERS)
        return {
            **counts,
            "transform_jobs": list(event["jobs"]),
            **billed_window(event["jobs"], datetime.now(UTC)),
        }

    def _read_output(
        self, row: ImageRow, by_content: Mapping[str, tuple[TransformJob, dict[str, Any], dict[str, str]]]
    ) -> ImageRow:
        bucket, key = parse_s3_uri(row.s3_uri)
        job, summary, errors = by_content[content_type_for(key)]
        transform = self.transform_jobs
        try:
            answer = transform.output(job, key)
        except ImageGoneError:
            reason = errors.get(f"{bucket}/{key}") or f"the job is {summary['status']}"
            return row.failed(f"transform job {job.name} wrote no output for it: {reason}")
        try:
            size = transform.image_size(bucket, key)
        except ImageGoneError:
            return row.failed(GONE)
        except ImageError as error:
            return row.failed(f"{type(error).__name__}: {error}")
        return self._gated(row, answer, size)

    # Both

    def _gated(self, row: ImageRow, answer: bytes, size: tuple[int, int]) -> ImageRow:
        try:
            detections = parse_detections(answer, size)
        except DetectorOutputError as error:
            return row.failed(f"{type(error).__name__}: {error}")
        return row.detected(size, gate_detections(detections, self.run_plan.config.policy))

    def _todo_shards(self) -> list[int]:
        done = set(self.stage_files.shards("detections"))
        return [shard for shard in self.stage_files.shards("images") if shard not in done]

    def _detect_shards(self, detect: Callable[[ImageRow], ImageRow], *, workers: int) -> dict[str, int]:
        """`detect` over the images of the shards no earlier try wrote, `workers` at once; rows
        written per shard as they complete."""
        files = self.stage_files
        done = files.shards("detections")
        todo = self._todo_shards()
        if done:
            self.log.info(
                "%d shards were detected by an earlier try: their images are not sent again.", len(done)
            )
        images = ((shard, row) for shard in todo for row in files.read_rows("images", shard))
        results = ordered_map(lambda item: (item[0], detect(item[1])), images, workers=workers)
        counts: Counter[str] = Counter()
        for shard, group in groupby(results, key=itemgetter(0)):
            rows = [row for _, row in group]
            for row in rows:
                counts["images"] += 1
                if row.error:
                    counts["errors"] += 1
                    self.log.warning("%s failed: %s", row.s3_uri, row.error)
                else:
                    counts["needs_review" if row.needs_review else "accepted"] += 1
            files.write_rows("detections", shard, rows)
        self.log.info(
            "Detected %d images: %d accepted, %d need review, %d failed; %d shards from an earlier try.",
            counts["images"],
            counts["accepted"],
            counts["needs_review"],
            counts["errors"],
            len(done),
        )
        return {
            **{key: counts[key] for key in ("images", "accepted", "needs_review", "errors")},
            "reused_shards": len(done),
        }
