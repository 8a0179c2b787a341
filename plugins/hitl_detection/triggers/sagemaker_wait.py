"""What every wait on SageMaker in the triggerer shares: the task's connection settings, carried
through serialize, the hook made from them, and a deadline.

The provider's deferrable mode needs aiobotocore, which pins an older botocore, so the waits run
the ordinary (blocking) Describe calls in a thread instead.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.triggers.base import BaseTrigger


class SageMakerWaitTrigger(BaseTrigger):
    """A subclass adds what it waits for: its own keyword arguments (`waited_for`) and `run`."""

    def __init__(
        self,
        *,
        deadline: str,
        poll_interval: float,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.deadline = deadline
        self.poll_interval = poll_interval
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config

    @classmethod
    def for_task(cls, task: Any, **kwargs: Any) -> SageMakerWaitTrigger:
        """The trigger with the connection settings of `task` (an AWS operator or sensor)."""
        return cls(
            aws_conn_id=task.aws_conn_id,
            region_name=task.region_name,
            verify=task.verify,
            botocore_config=task.botocore_config,
            **kwargs,
        )

    def waited_for(self) -> dict[str, Any]:
        """The subclass's own keyword arguments, as serialize passes them back."""
        raise NotImplementedError

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                **self.waited_for(),
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
            },
        )

    def sagemaker_hook(self) -> SageMakerHook:
        return SageMakerHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
        )

    def seconds_left(self) -> float:
        """Until the deadline; 0 or less once it has passed."""
        return (datetime.fromisoformat(self.deadline) - datetime.now(UTC)).total_seconds()
