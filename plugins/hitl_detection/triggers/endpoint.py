"""Wait in the triggerer until a SageMaker endpoint is InService, holding no worker slot.

A real endpoint takes 5-10 minutes to come up.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent

from hitl_detection.triggers.sagemaker_wait import SageMakerWaitTrigger

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


class EndpointInServiceTrigger(SageMakerWaitTrigger):
    """Poll DescribeEndpoint every `poll_interval` seconds until InService, failed, or `deadline`.

    Events: `{"status": "success", "endpoint_name"}` or `{"status": "error", "message"}`.
    """

    def __init__(self, *, endpoint_name: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.endpoint_name = endpoint_name

    def waited_for(self) -> dict[str, Any]:
        return {"endpoint_name": self.endpoint_name}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self.sagemaker_hook()
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
                remaining = self.seconds_left()
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
