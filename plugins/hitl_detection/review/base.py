"""The review backend interface: start a review task per image, watch progress, collect answers.

A2I implements it now; a self-hosted Label Studio backend can implement it later without any
change to the operators, the sensor or the DAG.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field

from hitl_detection.a2i_answers import ReviewerAnswer
from hitl_detection.boxes import Box


@dataclass(frozen=True)
class ReviewRequest:
    """What a reviewer is asked about one image."""

    task_name: str  # deterministic per (run, image): a retry finds the task it already started
    image_s3_uri: str
    labels: tuple[str, ...]
    initial_boxes: tuple[Box, ...]  # the model's confident boxes, shown for correction
    uncertain_boxes: tuple[Box, ...] = ()  # shown as hints, never drawn for the reviewer


@dataclass(frozen=True)
class ReviewTicket:
    """A started review task; JSON-serialisable through to_dict/from_dict."""

    task_name: str
    created_at: str  # ISO 8601, UTC
    reused: bool = False  # True when the task existed already (a retry or a cleared run)

    def to_dict(self) -> dict:
        return {"task_name": self.task_name, "created_at": self.created_at, "reused": self.reused}

    @classmethod
    def from_dict(cls, data: dict) -> ReviewTicket:
        return cls(data["task_name"], data["created_at"], bool(data.get("reused", False)))


@dataclass(frozen=True)
class ReviewProgress:
    """How far the reviews of one run are: finished means no human will change it any more."""

    expected: int
    finished: int
    failed: tuple[str, ...] = ()  # names of tasks that ended without an answer
    pending: tuple[str, ...] = field(default=())  # names still waiting (possibly a sample)

    @property
    def done(self) -> bool:
        """Loops left from an earlier try of a cleared run also carry the run's prefix: the
        count alone could end the wait while one of this try's loops is still pending."""
        return self.finished >= self.expected and not self.pending


@dataclass(frozen=True)
class ReviewOutcome:
    """What came back for one task: answers, or why there are none."""

    task_name: str
    answers: tuple[ReviewerAnswer, ...]
    review: dict  # backend, task, reviewers, timings, output location: goes into the result record
    error: str | None = None  # set when the task failed, was stopped or its output is unreadable

    @property
    def failed(self) -> bool:
        return self.error is not None


class ReviewBackend(ABC):
    """One way of getting humans to review images."""

    name: str

    @abstractmethod
    def start(self, request: ReviewRequest) -> ReviewTicket:
        """Start the task, or find the one already started under that name."""

    @abstractmethod
    def progress(self, scope: dict, expected: int) -> ReviewProgress:
        """How many of the run's `expected` tasks have finished (scope is backend-specific, JSON)."""

    @abstractmethod
    def collect(self, tickets: Iterable[ReviewTicket]) -> Iterable[ReviewOutcome]:
        """Read the answers of finished tasks, one outcome per ticket, in order."""
