"""Buttons in the Airflow UI from a task to what it made: the SageMaker resource a deploy task
created, the run's folder in S3, the people's review tasks.

As in the Amazon provider, a task works out its link's URL while it runs (only then are the
connection and the run's names known) and keeps it in XCom; the link reads it back. Against the
local stand-in, where no AWS console exists, the links open the stand-in's own pages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlencode

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

from hitl_detection.hooks.aws_console import console_url, stand_in_url

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey

log = logging.getLogger(__name__)

# The SageMaker console's page of each kind of resource a run deploys.
SAGEMAKER_CONSOLE_PAGES = {"model": "models", "endpoint config": "endpointConfig", "endpoint": "endpoints"}
# moto's dashboard: the stand-in's view of its SageMaker models, endpoint configs and endpoints.
MOTO_DASHBOARD = "/moto-api/"


class _PersistedLink(BaseOperatorLink):
    name: ClassVar[str]
    key: ClassVar[str]

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return XCom.get_value(key=self.key, ti_key=ti_key) or ""

    @classmethod
    def persist(cls, context: Context, url_of: Callable[[], str | None]) -> None:
        """Keep the URL `url_of` works out. A link is a convenience: failing to work it out is
        logged, and never fails the task."""
        try:
            url = url_of()
        except Exception:
            log.warning("No %r link for this task: its URL could not be worked out.", cls.name, exc_info=True)
            return
        if url:
            context["ti"].xcom_push(key=cls.key, value=url)


class SageMakerConsoleLink(_PersistedLink):
    name = "SageMaker console"
    key = "hitl_sagemaker_console_url"


class RunFolderLink(_PersistedLink):
    name = "Run folder in S3"
    key = "hitl_run_folder_url"


class ReviewsLink(_PersistedLink):
    name = "Review tasks"
    key = "hitl_reviews_url"


def sagemaker_resource_url(hook: AwsBaseHook, kind: str, name: str) -> str:
    """The resource's page in the SageMaker console; the stand-in's dashboard locally."""
    stand_in = stand_in_url(hook)
    if stand_in:
        return f"{stand_in}{MOTO_DASHBOARD}"
    page = SAGEMAKER_CONSOLE_PAGES[kind]
    return console_url(
        hook.conn_partition, hook.conn_region_name, "sagemaker/home", fragment=f"/{page}/{name}"
    )


def s3_folder_url(hook: AwsBaseHook, bucket: str, prefix: str) -> str:
    """The folder in the S3 console; locally, the stand-in's listing of it."""
    stand_in = stand_in_url(hook, "s3")
    if stand_in:
        return f"{stand_in}/{bucket}?{urlencode({'prefix': prefix})}"
    return console_url(
        hook.conn_partition,
        hook.conn_region_name,
        f"s3/buckets/{bucket}",
        query={"prefix": prefix, "showversions": "false"},
    )
