"""Amazon A2I human loops (`sagemaker-a2i-runtime`), which the Amazon provider has no hook for."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config

# Standard mode retries throttling (ThrottlingException, 429) and 5xx answers with jittered
# exponential backoff (1 s base for throttling, at most 20 s a wait); 10 retries after the first
# try is about a minute of patience per call before the error reaches the task.
DEFAULT_RETRIES = {"mode": "standard", "max_attempts": 10}
# Room for the review backend's parallel calls (botocore keeps 10 connections by default).
MAX_POOL_CONNECTIONS = 32
LIST_PAGE_SIZE = 100  # the most ListHumanLoops returns in one call


class A2IRuntimeHook(AwsBaseHook):
    """Start, describe, list and stop human loops; the loop states live here and nowhere else."""

    HUMAN_LOOP_IN_PROGRESS_STATES = frozenset({"InProgress", "Stopping"})
    HUMAN_LOOP_FINAL_STATES = frozenset({"Completed", "Failed", "Stopped"})
    HUMAN_LOOP_FAILED_STATES = frozenset({"Failed", "Stopped"})

    def __init__(self, *args, **kwargs) -> None:
        kwargs["client_type"] = "sagemaker-a2i-runtime"
        super().__init__(*args, **kwargs)

    @property
    def config(self) -> Config:
        """The connection's (or hook's) botocore config over DEFAULT_RETRIES and MAX_POOL_CONNECTIONS."""
        return Config(retries=DEFAULT_RETRIES, max_pool_connections=MAX_POOL_CONNECTIONS).merge(
            super().config
        )

    def start_human_loop(self, name: str, flow_definition_arn: str, input_content: str) -> str:
        """Start a loop and return its ARN."""
        response = self.conn.start_human_loop(
            HumanLoopName=name,
            FlowDefinitionArn=flow_definition_arn,
            HumanLoopInput={"InputContent": input_content},
        )
        return response["HumanLoopArn"]

    def describe_human_loop(self, name: str) -> dict[str, Any]:
        """The loop's description; raises `conn.exceptions.ResourceNotFoundException` for an unknown name."""
        return self.conn.describe_human_loop(HumanLoopName=name)

    def iter_human_loops(
        self, flow_definition_arn: str, created_after: datetime, created_before: datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Summaries of the flow definition's loops created in the window, 100 per call, oldest first."""
        window = {"CreationTimeAfter": created_after}
        if created_before is not None:
            window["CreationTimeBefore"] = created_before
        pages = self.conn.get_paginator("list_human_loops").paginate(
            FlowDefinitionArn=flow_definition_arn,
            SortOrder="Ascending",
            PaginationConfig={"PageSize": LIST_PAGE_SIZE},
            **window,
        )
        for page in pages:
            yield from page["HumanLoopSummaries"]

    def stop_human_loop(self, name: str) -> None:
        self.conn.stop_human_loop(HumanLoopName=name)
