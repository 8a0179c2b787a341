"""The base of the tasks mapped over a run's batches: each reads and writes its batch's S3 files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from hitl_detection.run_layout import RunLayout


class RunBatchOperator(AwsBaseOperator[S3Hook]):
    """Takes the run's plan and a batch number (both usually XComArgs); `hook` is an S3Hook."""

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("plan", "batch")

    def __init__(self, *, plan: Mapping[str, Any], batch: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.batch = batch

    @property
    def layout(self) -> RunLayout:
        return RunLayout(**self.plan["layout"])
