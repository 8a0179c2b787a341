"""Detect objects in every image of a run and gate each answer as it arrives."""

from __future__ import annotations

from collections import Counter
from functools import cached_property
from itertools import groupby
from operator import itemgetter
from typing import Any

from airflow.sdk import Context
from botocore.exceptions import ClientError

from hitl_detection.domain.detector_output import DetectorOutputError, parse_detections
from hitl_detection.domain.gating import GatePolicy, gate_detections
from hitl_detection.domain.images import ImageError, check_payload_size, content_type_for, image_size
from hitl_detection.domain.s3_uri import parse_s3_uri
from hitl_detection.domain.stage_rows import ImageRow
from hitl_detection.domain.streams import ordered_map
from hitl_detection.hooks.sagemaker_runtime import EndpointModelError, SageMakerRuntimeHook
from hitl_detection.operators.base import RunOperator

# Connections kept beyond the requests in flight, for the shard files read and written meanwhile.
SPARE_CONNECTIONS = 4


class DetectObjectsOperator(RunOperator):
    """Send every image to the endpoint as stored and gate what the model said, image by image.

    The plan's `endpoint_concurrency` requests are kept in flight across the whole run, which is
    what the endpoint can serve at once, so detection goes at the endpoint's own bound. Rows are
    written per shard as they complete; a retried task skips the shards an earlier try wrote and
    never sends those images again.

    A bad image or a malformed answer fails that image (its row carries the error); a failure of
    the endpoint itself (not found, throttled past retries, unreachable) fails the task, since
    every other image would fail the same way.
    """

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "config": self._botocore_config()}

    def _botocore_config(self) -> dict[str, Any]:
        pool = self.run_plan.endpoint_concurrency + SPARE_CONNECTIONS
        return {"max_pool_connections": pool, **(self.botocore_config or {})}

    @cached_property
    def runtime(self) -> SageMakerRuntimeHook:
        return SageMakerRuntimeHook(**self._hook_parameters)

    def execute(self, context: Context) -> dict[str, int]:
        plan = self.run_plan
        files = self.stage_files
        done = set(files.shards("detections"))
        todo = [shard for shard in files.shards("images") if shard not in done]
        if done:
            self.log.info(
                "%d shards were detected by an earlier try: their images are not sent again.", len(done)
            )
        self.log.info(
            "Detecting objects with endpoint %s, %d requests in flight.",
            plan.deployment.endpoint_name,
            plan.endpoint_concurrency,
        )
        for hook in (self.hook, self.runtime):
            hook.get_conn()  # build the clients before the threads share them
        policy = plan.config.policy
        images = ((shard, row) for shard in todo for row in files.read_rows("images", shard))
        results = ordered_map(
            lambda item: (item[0], self._detect(item[1], policy)), images, workers=plan.endpoint_concurrency
        )
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

    def _detect(self, row: ImageRow, policy: GatePolicy) -> ImageRow:
        bucket, key = parse_s3_uri(row.s3_uri)
        content_type = content_type_for(key)
        try:
            # One GetObject; S3Hook.get_key would send a HeadObject first.
            body = self.hook.conn.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                raise
            return row.failed("the image is no longer in S3")
        try:
            check_payload_size(body)
            size = image_size(body, content_type)
            answer = self.runtime.invoke_endpoint(self.run_plan.deployment.endpoint_name, body, content_type)
            detections = parse_detections(answer, size)
        except (ImageError, EndpointModelError, DetectorOutputError) as error:
            return row.failed(f"{type(error).__name__}: {error}")
        return row.detected(size, gate_detections(detections, policy))
