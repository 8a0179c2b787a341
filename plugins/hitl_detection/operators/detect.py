"""Run the detector on one batch of images and keep what it said, image by image."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Context
from botocore.exceptions import ClientError

from hitl_detection.detector_output import DetectorOutputError, parse_detections
from hitl_detection.hooks.sagemaker_runtime import EndpointModelError, SageMakerRuntimeHook
from hitl_detection.images import ImageError, content_type_for, image_size
from hitl_detection.jsonl_store import read_jsonl, write_jsonl
from hitl_detection.run_layout import RunLayout
from hitl_detection.s3_uri import parse_s3_uri
from hitl_detection.work_rows import prediction_row

# A real endpoint serves a few requests at once per instance; more only queues or throttles.
DEFAULT_MAX_CONCURRENCY = 4


class DetectObjectsOperator(AwsBaseOperator[SageMakerRuntimeHook]):
    """Send every image of a batch to the endpoint as stored and write one prediction row each.

    A bad image or a malformed answer fails that image (its row carries the error); a failure of
    the endpoint itself (not found, throttled past retries, unreachable) fails the task, since
    every other image would fail the same way.
    """

    aws_hook_class = SageMakerRuntimeHook
    template_fields: Sequence[str] = aws_template_fields("plan", "batch")

    def __init__(
        self, *, plan: Mapping[str, Any], batch: int, max_concurrency: int = DEFAULT_MAX_CONCURRENCY, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.batch = batch
        self.max_concurrency = max_concurrency

    @cached_property
    def s3(self) -> S3Hook:
        return S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify)

    def execute(self, context: Context) -> dict[str, int]:
        layout = RunLayout(**self.plan["layout"])
        endpoint_name = self.plan["endpoint_name"]
        images = list(read_jsonl(self.s3, layout.bucket, layout.batch_key("images", self.batch)))
        self.log.info("Detecting objects in %d images with endpoint %s.", len(images), endpoint_name)
        with ThreadPoolExecutor(max_workers=max(1, min(self.max_concurrency, len(images)))) as pool:
            rows = list(pool.map(lambda image: self._predict(endpoint_name, image), images))
        write_jsonl(self.s3, layout.bucket, layout.batch_key("predictions", self.batch), rows)
        errors = [row for row in rows if row["error"]]
        for row in errors:
            self.log.warning("%s failed: %s", row["image_s3_uri"], row["error"])
        self.log.info("Batch %d: %d images, %d failed.", self.batch, len(rows), len(errors))
        return {"batch": self.batch, "images": len(rows), "errors": len(errors)}

    def _predict(self, endpoint_name: str, image: Mapping[str, Any]) -> dict[str, Any]:
        bucket, key = parse_s3_uri(image["image_s3_uri"])
        content_type = content_type_for(key)
        try:
            # One GetObject; S3Hook.get_key would send a HeadObject first.
            body = self.s3.conn.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                raise
            return prediction_row(image, error="the image is no longer in S3")
        try:
            size = image_size(body, content_type)
            answer = self.hook.invoke_endpoint(endpoint_name, body, content_type)
            detections = parse_detections(answer, size)
        except (ImageError, EndpointModelError, DetectorOutputError) as error:
            return prediction_row(image, error=f"{type(error).__name__}: {error}")
        return prediction_row(image, image_size=size, detections=detections)
