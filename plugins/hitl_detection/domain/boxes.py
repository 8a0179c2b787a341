"""Bounding boxes in pixels of the stored image, the one shape every stage exchanges.

The detector, the reviewers and the result records all describe a box as left/top/width/height
in pixels; one type for all of them means no stage converts corner formats on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SOURCES = ("model", "human")
A2I_FIELDS = ("label", "left", "top", "width", "height")
RECORD_FIELDS = (*A2I_FIELDS, "score", "source")


@dataclass(frozen=True)
class Box:
    """A labelled box; `score` is the model's confidence (None for a reviewer's box)."""

    label: str
    left: int | float
    top: int | float
    width: int | float
    height: int | float
    score: float | None = None
    source: str = "model"

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"box source {self.source!r} is not one of {', '.join(SOURCES)}")
        if self.width < 0 or self.height < 0:
            raise ValueError(
                f"box {self.label!r} has size {self.width}x{self.height}; expected width and height >= 0"
            )

    @property
    def right(self) -> int | float:
        return self.left + self.width

    @property
    def bottom(self) -> int | float:
        return self.top + self.height

    @property
    def area(self) -> int | float:
        return self.width * self.height

    @property
    def coords(self) -> tuple[int | float, int | float, int | float, int | float]:
        """(left, top, width, height): what "the same place" means when comparing boxes."""
        return (self.left, self.top, self.width, self.height)

    def to_record(self) -> dict[str, Any]:
        return {**self.to_a2i(), "score": self.score, "source": self.source}

    def to_a2i(self) -> dict[str, Any]:
        """The shape crowd-bounding-box takes as `initial-value` and returns as `boundingBoxes`."""
        return {
            "label": self.label,
            "left": self.left,
            "top": self.top,
            "width": self.width,
            "height": self.height,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Box:
        """Rebuild a box from `to_record()` output (score and source may be absent)."""
        missing = [name for name in A2I_FIELDS if name not in record]
        if missing:
            raise ValueError(
                f"box record lacks {', '.join(missing)}; expected the fields {', '.join(RECORD_FIELDS)}"
            )
        return cls(
            label=record["label"],
            left=record["left"],
            top=record["top"],
            width=record["width"],
            height=record["height"],
            score=record.get("score"),
            source=record.get("source", "model"),
        )


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes' areas, ignoring labels; 0 when they do not overlap."""
    overlap_width = min(a.right, b.right) - max(a.left, b.left)
    overlap_height = min(a.bottom, b.bottom) - max(a.top, b.top)
    if overlap_width <= 0 or overlap_height <= 0:
        return 0.0
    intersection = overlap_width * overlap_height
    return min(1.0, intersection / (a.area + b.area - intersection))


def check_iou_threshold(iou_threshold: float) -> None:
    """An IoU threshold of 0 would pair boxes that do not even touch, so it must be in (0, 1]."""
    if isinstance(iou_threshold, bool) or not isinstance(iou_threshold, int | float):
        raise ValueError(f"iou_threshold {iou_threshold!r} is not a number; expected a number in (0, 1]")
    if not 0 < iou_threshold <= 1:
        raise ValueError(f"iou_threshold {iou_threshold} is outside (0, 1]; expected above 0 and at most 1")


def match_boxes(first: Sequence[Box], second: Sequence[Box], iou_threshold: float) -> list[tuple[int, int]]:
    """Pair boxes of the same label one-to-one, greedily by highest IoU (at least `iou_threshold`).

    Returns (index in first, index in second) pairs, sorted; ties go to the lower indices so the
    result is deterministic. Greedy by highest IoU is what comparing reviewers and the model needs:
    a box is paired with the one that overlaps it most, and never with two.
    """
    check_iou_threshold(iou_threshold)
    candidates = []
    for i, a in enumerate(first):
        for j, b in enumerate(second):
            if a.label == b.label:
                overlap = iou(a, b)
                if overlap > 0 and overlap >= iou_threshold:
                    candidates.append((-overlap, i, j))
    candidates.sort()
    used_first: set[int] = set()
    used_second: set[int] = set()
    pairs = []
    for _, i, j in candidates:
        if i not in used_first and j not in used_second:
            used_first.add(i)
            used_second.add(j)
            pairs.append((i, j))
    return sorted(pairs)
