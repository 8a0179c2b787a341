"""Wait in the triggerer until a SageMaker endpoint is InService, holding no worker slot.

A real endpoint takes 5-10 minutes to come up. The provider's deferrable mode needs aiobotocore,
which pins an older botocore, so this trigger runs the ordinary (blocking) DescribeEndpoint in a
thread instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.triggers.base import BaseTrigger, TriggerEvent

ENDPOINT_READY_STATES = frozenset({"InService"})
ENDPOINT_IN_PROGRESS_STATES = frozenset({"Creating", "Updating", "SystemUpdating"})


def endpoint_state(description: dict[str, Any]) -> tuple[str, str | None]:
    """("ready" | "waiting" | "failed", why it failed)."""
    status = description["EndpointStatus"]
    if status in ENDPOINT_READY_STATES:
        return "ready", None
    if status in ENDPOINT_IN_PROGRESS_STATES:
        return "waiting", None
    reason = description.get("FailureReason") or "no FailureReason given"
    return "failed", f"endpoint {description['EndpointName']} is {status}, expected InService: {reason}"


class EndpointInServiceTrigger(BaseTrigger):
    """Poll DescribeEndpoint every `poll_interval` seconds until InService, failed, or `deadline`.

    Events: `{"status": "success", "endpoint_name"}` or `{"status": "error", "message"}`.
    """

    def __init__(
        self,
        *,
        endpoint_name: str,
        deadline: str,
        poll_interval: float,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.endpoint_name = endpoint_name
        self.deadline = deadline
        self.poll_interval = poll_interval
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "endpoint_name": self.endpoint_name,
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = SageMakerHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
        )
        deadline = datetime.fromisoformat(self.deadline)
        try:
            while True:
                description = await asyncio.to_thread(hook.describe_endpoint, self.endpoint_name)
                state, problem = endpoint_state(description)
                if state == "ready":
                    yield TriggerEvent({"status": "success", "endpoint_name": self.endpoint_name})
                    return
                if state == "failed":
                    yield TriggerEvent({"status": "error", "message": problem})
                    return
                remaining = (deadline - datetime.now(UTC)).total_seconds()
                if remaining <= 0:
                    message = (
                        f"endpoint {self.endpoint_name} was still {description['EndpointStatus']} at "
                        f"{self.deadline}; expected InService"
                    )
                    yield TriggerEvent({"status": "error", "message": message})
                    return
                self.log.info("Endpoint %s is %s.", self.endpoint_name, description["EndpointStatus"])
                await asyncio.sleep(min(self.poll_interval, remaining))
        except Exception as error:
            self.log.exception("Watching endpoint %s failed", self.endpoint_name)
            yield TriggerEvent({"status": "error", "message": f"{type(error).__name__}: {error}"})
