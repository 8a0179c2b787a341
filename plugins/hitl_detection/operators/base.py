"""The base of the tasks that work on a run: the plan decoded once, the run's stage files, and the
review backend built with the task's own connection settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from hitl_detection.domain.run_plan import RunPlan
from hitl_detection.hooks.stage_files import StageFiles
from hitl_detection.review.base import Connections, ReviewBackend
from hitl_detection.review.factory import build_review_backend, review_settings


def connections_of(task: Any) -> Connections:
    """The connection settings an AWS operator or sensor was given, for a review backend."""
    return Connections(
        aws_conn_id=task.aws_conn_id,
        region_name=task.region_name,
        verify=task.verify,
        botocore_config=task.botocore_config,
    )


class RunOperator(AwsBaseOperator[S3Hook]):
    """Takes the run's plan (usually `plan_run`'s output); `hook` is an S3Hook."""

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields("plan")

    def __init__(self, *, plan: Mapping[str, Any], **kwargs) -> None:
        super().__init__(**kwargs)
        self.plan = plan

    @cached_property
    def run_plan(self) -> RunPlan:
        return RunPlan.from_xcom(self.plan)

    @cached_property
    def stage_files(self) -> StageFiles:
        return StageFiles(self.hook, self.run_plan.layout)

    def review_backend(self) -> ReviewBackend:
        return build_review_backend(review_settings(self.run_plan.config), connections_of(self))
