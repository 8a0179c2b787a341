"""Wait in the triggerer until a run's SageMaker Batch Transform jobs have ended, holding no worker.

A job over 100,000 images runs for hours.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent

from hitl_detection.domain.batch_transform import ENDED_STATES, job_summary
from hitl_detection.triggers.sagemaker_wait import SageMakerWaitTrigger


class TransformJobsEndedTrigger(SageMakerWaitTrigger):
    """Poll DescribeTransformJob for each job every `poll_interval` seconds until every one is
    Completed, Failed or Stopped, or `deadline` passes.

    A job that failed is not an error here: which of its images failed is for the task to read.
    Events: `{"status": "success", "jobs": [job_summary, ...]}` or `{"status": "error", "message"}`.
    """

    def __init__(self, *, job_names: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_names = list(job_names)

    def waited_for(self) -> dict[str, Any]:
        return {"job_names": self.job_names}

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self.sagemaker_hook()
        ended: dict[str, dict[str, Any]] = {}
        try:
            while True:
                running = []
                for name in self.job_names:
                    if name in ended:
                        continue
                    description = await asyncio.to_thread(hook.describe_transform_job, name)
                    if description["TransformJobStatus"] in ENDED_STATES:
                        ended[name] = job_summary(description)
                    else:
                        running.append(f"{name} {description['TransformJobStatus']}")
                if not running:
                    jobs = [ended[name] for name in self.job_names]
                    yield TriggerEvent({"status": "success", "jobs": jobs})
                    return
                remaining = self.seconds_left()
                if remaining <= 0:
                    message = f"transform jobs still running at {self.deadline}: {', '.join(running)}"
                    yield TriggerEvent({"status": "error", "message": message})
                    return
                self.log.info("Transform jobs: %s.", ", ".join(running))
                await asyncio.sleep(min(self.poll_interval, remaining))
        except Exception as error:
            self.log.exception("Watching transform jobs %s failed", ", ".join(self.job_names))
            yield TriggerEvent({"status": "error", "message": f"{type(error).__name__}: {error}"})
