"""What passes between the pipeline and a review backend, whoever the reviewers are.

Every backend (A2I human loops, Label Studio tasks) takes a ReviewRequest, hands back a
ReviewTicket, reports ReviewProgress and yields a ReviewOutcome of ReviewerAnswers per ticket, so
the stages of a run never need to know which backend they talk to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hitl_detection.domain.boxes import Box


class TaskInputError(ValueError):
    """A review task cannot be built from this request (a bad URI, a label outside the run's)."""


def boxes_among_labels(kind: str, boxes: Sequence[Box], labels: Sequence[str]) -> Sequence[Box]:
    """`boxes`, when every one has a label among `labels`: a reviewer can only pick those."""
    for index, box in enumerate(boxes):
        if box.label not in labels:
            raise TaskInputError(
                f"{kind} {index} has label {box.label!r}, which is not among labels {list(labels)}"
            )
    return boxes


@dataclass(frozen=True)
class ReviewRequest:
    """What a reviewer is asked about one image."""

    run_key: str  # with image_key, what the backend derives its deterministic task name from
    image_key: str
    image_s3_uri: str
    image_size: tuple[int, int] | None
    labels: tuple[str, ...]
    initial_boxes: tuple[Box, ...]  # the model's confident boxes, shown for correction
    uncertain_boxes: tuple[Box, ...] = ()  # shown as hints, never drawn for the reviewer


@dataclass(frozen=True)
class ReviewTicket:
    """A started review task: its deterministic name and the backend's own handle for it."""

    name: str
    handle: str | None = None  # the loop's ARN, the task's id: whatever the backend finds it by
    reused: bool = False  # True when the task existed already (a retry or a cleared run)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "handle": self.handle, "reused": self.reused}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReviewTicket:
        return cls(data["name"], data.get("handle"), bool(data.get("reused", False)))


@dataclass(frozen=True)
class ReviewProgress:
    """How far the reviews of one run are: finished means no human will change it any more."""

    expected: int
    finished: int
    failed: tuple[str, ...] = ()  # names of tasks that ended without an answer
    pending: tuple[str, ...] = ()  # names still waiting (possibly a sample)
    listed: int | None = None  # how many of the run's tasks the backend's sweep saw, if it counts them

    @property
    def done(self) -> bool:
        """Tasks left from an earlier try of a cleared run may count too: the count alone could
        end the wait while one of this try's tasks is still pending."""
        return self.finished >= self.expected and not self.pending

    @property
    def unlisted(self) -> int:
        """Tasks started but missing from the sweep: not listed yet, or deleted by someone."""
        return 0 if self.listed is None else max(self.expected - self.listed, 0)

    def with_deleted(self, names: Sequence[str]) -> ReviewProgress:
        """Deleted tasks will never finish: they count as finished, without an answer."""
        return replace(
            self,
            finished=self.finished + len(names),
            failed=(*self.failed, *names),
            listed=None if self.listed is None else self.listed + len(names),
        )

    def describe(self) -> str:
        """`3 of 10 review tasks finished (1 failed); 7 pending: a, b and 5 more`."""
        text = f"{self.finished} of {self.expected} review tasks finished ({len(self.failed)} failed)"
        waiting = self.expected - self.finished
        if waiting <= 0:
            return text
        more = waiting - len(self.pending)
        names = ", ".join(self.pending) or "none listed yet"
        return f"{text}; {waiting} pending: {names}" + (f" and {more} more" if more > 0 else "")


@dataclass(frozen=True)
class ReviewerAnswer:
    """One reviewer's boxes (source "human", no score), with the image size the reviewer saw."""

    worker_id: str
    boxes: tuple[Box, ...]
    image_size: tuple[int, int] | None
    submission_time: str | None
    time_spent_seconds: float | None


@dataclass(frozen=True)
class ReviewOutcome:
    """What came back for one task: answers, or why there are none."""

    task_name: str
    answers: tuple[ReviewerAnswer, ...]
    review: Mapping[str, Any]  # backend, task, reviewers, timings: goes into the result record
    error: str | None = None  # set when the task failed, was skipped, stopped or is unreadable
    still_open: bool = False  # no answer yet, and a reviewer may still give one (with an error)

    @property
    def failed(self) -> bool:
        return self.error is not None
