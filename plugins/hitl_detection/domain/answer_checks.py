"""Check reviewers' answers against the run and the stored image before they are merged.

A reviewer's answer is the most expensive data of a run, but not trusted as it comes: a worker
page can be edited, a task shown on an image turned by its EXIF orientation, a box dragged off
the image. The same rules hold for every review backend, after its answers are parsed and before
they are merged:

- an answer drawn on an image of another size than the stored one is refused whole: its boxes
  would be misplaced (an answer that does not say what size it saw is taken as it is);
- a box whose label is not one of the run's labels is dropped (a reviewer can only pick those);
- a box with no area is dropped, and a box reaching out of the image is cut at its edges, or
  dropped when nothing of it is inside.

What was refused, dropped or clipped is said, per reviewer, in the result record's `review`
(`answer_checks`) and counted in the run summary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.review_tasks import ReviewerAnswer

CHECK_KINDS = ("boxes_dropped", "boxes_clipped", "answers_refused")


@dataclass(frozen=True)
class CheckedAnswers:
    """The answers kept (with their boxes checked), and what the checks took out or changed."""

    answers: tuple[ReviewerAnswer, ...]
    dropped: tuple[dict[str, Any], ...] = ()  # {reviewer, box, reason}
    clipped: tuple[dict[str, Any], ...] = ()  # {reviewer, box, clipped_to}
    refused: tuple[dict[str, Any], ...] = ()  # {reviewer, reason}

    def to_record(self) -> dict[str, list[dict[str, Any]]]:
        """`{boxes_dropped, boxes_clipped, answers_refused}`: what goes under the record's review."""
        return {
            "boxes_dropped": [dict(item) for item in self.dropped],
            "boxes_clipped": [dict(item) for item in self.clipped],
            "answers_refused": [dict(item) for item in self.refused],
        }

    @property
    def why_none(self) -> str:
        """Why no answer is left, for a review_failed record."""
        reasons = "; ".join(f"{item['reviewer']}: {item['reason']}" for item in self.refused)
        return f"every reviewer's answer was refused ({reasons})" if reasons else "no reviewer answered"


def check_answers(
    answers: Sequence[ReviewerAnswer], labels: Sequence[str], image_size: tuple[int, int] | None
) -> CheckedAnswers:
    """Apply the rules above to each answer; `image_size` is the stored image's (width, height),
    None when unknown (then only labels and empty boxes are checked)."""
    kept: list[ReviewerAnswer] = []
    dropped: list[dict[str, Any]] = []
    clipped: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for answer in answers:
        reviewer = answer.worker_id
        if image_size is not None and answer.image_size is not None and answer.image_size != image_size:
            refused.append({"reviewer": reviewer, "reason": _size_mismatch(answer.image_size, image_size)})
            continue
        boxes = []
        for box in answer.boxes:
            checked, reason = _check_box(box, labels, image_size)
            if checked is None:
                dropped.append({"reviewer": reviewer, "box": box.to_record(), "reason": reason})
                continue
            if checked != box:
                clipped.append(
                    {"reviewer": reviewer, "box": box.to_record(), "clipped_to": checked.to_record()}
                )
            boxes.append(checked)
        kept.append(replace(answer, boxes=tuple(boxes)))
    return CheckedAnswers(tuple(kept), tuple(dropped), tuple(clipped), tuple(refused))


def _check_box(
    box: Box, labels: Sequence[str], image_size: tuple[int, int] | None
) -> tuple[Box | None, str | None]:
    """The box as kept (maybe clipped), or None and why it is dropped."""
    if box.label not in labels:
        return None, f"label {box.label!r} is not one of the run's labels {list(labels)}"
    if box.area <= 0:
        return None, f"the box has no area ({box.width}x{box.height})"
    if image_size is None:
        return box, None
    width, height = image_size
    left, top = max(box.left, 0), max(box.top, 0)
    right, bottom = min(box.right, width), min(box.bottom, height)
    if right <= left or bottom <= top:
        return None, f"the box lies outside the {width}x{height} image"
    if (left, top, right, bottom) == (box.left, box.top, box.right, box.bottom):
        return box, None
    return replace(box, left=left, top=top, width=right - left, height=bottom - top), None


def _size_mismatch(seen: tuple[int, int], stored: tuple[int, int]) -> str:
    return (
        f"drawn on the image as {seen[0]}x{seen[1]}, but the stored image is {stored[0]}x{stored[1]} "
        "(turned by its EXIF orientation, or resized?): its boxes would be misplaced"
    )
