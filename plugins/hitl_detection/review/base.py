"""The review backend interface: the only door between a run's stages and the people reviewing.

A backend owns its task names, its progress scope and its settings, so that operators, sensor,
trigger and DAG builder name no backend's concepts. Amazon A2I and Label Studio implement it; so
can any service that can show an image with boxes to people and give their boxes back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, ClassVar

from hitl_detection.domain.review_tasks import ReviewOutcome, ReviewProgress, ReviewRequest, ReviewTicket
from hitl_detection.domain.run_config import RunConfig


@dataclass(frozen=True)
class Connections:
    """The connections a backend may use, as a task was given them (JSON, for the trigger)."""

    aws_conn_id: str | None = "aws_default"
    region_name: str | None = None
    verify: bool | str | None = None
    botocore_config: dict[str, Any] | None = None
    label_studio_conn_id: str = "label_studio_default"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def aws_hook_kwargs(self) -> dict[str, Any]:
        """The arguments of an AwsBaseHook on these settings."""
        return {
            "aws_conn_id": self.aws_conn_id,
            "region_name": self.region_name,
            "verify": self.verify,
            "config": self.botocore_config,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Connections:
        return cls(**data)


class ReviewSetupError(ValueError):
    """The backend's settings do not point at something that can take the run's reviews."""


class ReviewBackend(ABC):
    """One way of getting humans to review images.

    `parallel_calls` is how many calls the pipeline makes to the backend's service at once when
    it starts or collects many tasks.
    """

    name: ClassVar[str]
    parallel_calls: ClassVar[int] = 8

    @abstractmethod
    def __init__(self, settings: Mapping[str, Any], connections: Connections) -> None: ...

    @classmethod
    @abstractmethod
    def settings_from(cls, config: RunConfig) -> dict[str, Any]:
        """The backend's settings taken from a run's checked config, as JSON."""

    @abstractmethod
    def check(self, labels: Sequence[str]) -> None:
        """Read-only: raise ReviewSetupError, naming what is wrong, unless the settings point at
        something that can take this run's reviews with these labels. Runs before money is spent."""

    @abstractmethod
    def start(self, request: ReviewRequest) -> ReviewTicket:
        """Start the image's task, or find the one an earlier try started; never a second one."""

    @abstractmethod
    def progress_scope(self, run_key: str, started_after: datetime) -> dict[str, Any]:
        """What `progress` needs to find the run's tasks (JSON, passed to the trigger)."""

    @abstractmethod
    def console_url(self, scope: Mapping[str, Any]) -> str:
        """Where a person sees the run's tasks (`scope` from `progress_scope`): the service's own
        console, or the local stand-in's page where the connection points at one."""

    @abstractmethod
    def progress(self, scope: Mapping[str, Any], expected: int) -> ReviewProgress:
        """How many of the run's `expected` tasks have finished, and how many the sweep `listed`.

        A sweep sees the tasks that exist: one deleted by someone is missing from it for good.
        """

    @abstractmethod
    def deleted(self, scope: Mapping[str, Any], tickets: Iterable[ReviewTicket]) -> list[str]:
        """The names of those of the run's `tickets` whose task no longer exists (deleted by someone).

        One sweep of the run's tasks, then one call for each ticket the sweep did not list, since
        a listing may lag behind a start. The wait asks only when a sweep lists fewer tasks than
        it expects, so a wait on N tasks never costs N calls a poll.
        """

    def is_transient(self, error: BaseException) -> bool:
        """Whether a failed call may pass by itself (throttling, an outage): then a long wait
        checks again later instead of failing."""
        return False

    @abstractmethod
    def end_open(self, ticket: ReviewTicket) -> str:
        """Called for a task still open when the wait reached its deadline and the run publishes
        without it: end it where the service can (so that nobody answers, and is paid for, what
        the run will not publish). Says what was done, for the image's record."""

    @abstractmethod
    def collect(self, ticket: ReviewTicket) -> ReviewOutcome:
        """The answers of one finished task, or why there are none.

        A task that failed, was skipped or deleted, or whose answer is unreadable, is an outcome
        with an error (`still_open` when no answer is there yet); a fault of the service
        (throttling, network) is raised, to be retried.
        """
