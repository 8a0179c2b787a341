"""One result record per image, and the run summary built from them as they stream past.

Every record has the same keys whatever its status, so that readers of results.jsonl need no
special cases:

    image_s3_uri, status, boxes, model_boxes, changes, review, error, image_size,
    dropped_other_label, needs_review

`boxes` are the final boxes (`{label, left, top, width, height, score, source}`), `model_boxes`
what the model said after min_score (any label), `changes` what reviewers changed compared with
the accepted model boxes (None unless status is "reviewed"), `image_size` `{width, height}`,
`review` (None unless reviewed or review_failed) the backend's task and how the model's boxes were
made (`inference`: endpoint or batch_transform, as the summary's `inference`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hitl_detection.domain.answer_checks import CHECK_KINDS
from hitl_detection.domain.boxes import Box, match_boxes
from hitl_detection.domain.gating import GateDecision

STATUSES = ("accepted", "reviewed", "review_failed", "error")
CHANGE_KINDS = ("added", "removed", "moved")
# A reviewer's box this close to an accepted model box is that box, left as it was (A2I rounds).
SAME_BOX_IOU = 0.99
MAX_SUMMARY_ERRORS = 20


@dataclass(frozen=True)
class BoxChanges:
    """How final boxes differ from model boxes: `moved` pairs each model box with its final box."""

    added: tuple[Box, ...] = ()
    removed: tuple[Box, ...] = ()
    moved: tuple[tuple[Box, Box], ...] = ()

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        """`{added: [box], removed: [box], moved: [{from: box, to: box}]}` with box records."""
        return {
            "added": [box.to_record() for box in self.added],
            "removed": [box.to_record() for box in self.removed],
            "moved": [{"from": old.to_record(), "to": new.to_record()} for old, new in self.moved],
        }


def diff_boxes(
    model_boxes: Sequence[Box], final_boxes: Sequence[Box], iou_threshold: float = 0.5
) -> BoxChanges:
    """Match boxes of the same label one-to-one by IoU: unmatched final boxes were added,
    unmatched model boxes removed, and matched ones whose coordinates differ moved."""
    pairs = match_boxes(model_boxes, final_boxes, iou_threshold)
    matched_model = {i for i, _ in pairs}
    matched_final = {j for _, j in pairs}
    return BoxChanges(
        added=tuple(box for j, box in enumerate(final_boxes) if j not in matched_final),
        removed=tuple(box for i, box in enumerate(model_boxes) if i not in matched_model),
        moved=tuple(
            (model_boxes[i], final_boxes[j])
            for i, j in pairs
            if model_boxes[i].coords != final_boxes[j].coords
        ),
    )


def accepted_record(
    image_s3_uri: str, decision: GateDecision, image_size: tuple[int, int] | None
) -> dict[str, Any]:
    """No review was needed: the final boxes are the accepted model boxes."""
    if decision.needs_review:
        raise ValueError(
            f"{image_s3_uri} needs review ({'; '.join(decision.reasons)}); "
            "expected reviewed_record or review_failed_record"
        )
    return _record(image_s3_uri, "accepted", decision, decision.accepted, image_size)


def reviewed_record(
    image_s3_uri: str,
    decision: GateDecision,
    final_boxes: Sequence[Box],
    review: Mapping[str, Any],
    image_size: tuple[int, int] | None,
) -> dict[str, Any]:
    """The reviewers' final boxes. One that equals an accepted model box (same label, IoU >= 0.99)
    is that model box, with its score and source "model"; every other one is source "human"."""
    same = {j: i for i, j in match_boxes(decision.accepted, final_boxes, SAME_BOX_IOU)}
    boxes = [
        decision.accepted[same[j]] if j in same else replace(box, score=None, source="human")
        for j, box in enumerate(final_boxes)
    ]
    changes = diff_boxes(decision.accepted, boxes)
    return _record(image_s3_uri, "reviewed", decision, boxes, image_size, review=review, changes=changes)


def review_failed_record(
    image_s3_uri: str,
    decision: GateDecision,
    review: Mapping[str, Any],
    error: str,
    image_size: tuple[int, int] | None,
) -> dict[str, Any]:
    """The review gave no usable answer: keep the accepted model boxes so that nothing is lost."""
    return _record(
        image_s3_uri, "review_failed", decision, decision.accepted, image_size, review=review, error=error
    )


def error_record(image_s3_uri: str, error: str) -> dict[str, Any]:
    """The image could not be processed (unreadable, or the model's answer was malformed)."""
    return _record(image_s3_uri, "error", GateDecision(), (), None, error=error)


def _record(
    image_s3_uri: str,
    status: str,
    decision: GateDecision,
    boxes: Sequence[Box],
    image_size: tuple[int, int] | None,
    *,
    review: Mapping[str, Any] | None = None,
    error: str | None = None,
    changes: BoxChanges | None = None,
) -> dict[str, Any]:
    if status in ("review_failed", "error") and not (isinstance(error, str) and error):
        raise ValueError(f"a {status} record for {image_s3_uri} needs the error's description, got {error!r}")
    return {
        "image_s3_uri": image_s3_uri,
        "status": status,
        "boxes": [box.to_record() for box in boxes],
        "model_boxes": [box.to_record() for box in decision.kept],
        "changes": None if changes is None else changes.to_dict(),
        "review": None if review is None else dict(review),
        "error": error,
        "image_size": None if image_size is None else {"width": image_size[0], "height": image_size[1]},
        "dropped_other_label": decision.dropped_other_label,
        "needs_review": decision.needs_review,
    }


class SummaryBuilder:
    """Counts over a run's records, fed one record (or one batch's summary) at a time.

    Holds counters and at most 20 errors, never the records, so memory stays flat.
    """

    def __init__(self) -> None:
        self._images = 0
        self._by_status = dict.fromkeys(STATUSES, 0)
        self._boxes = 0
        self._boxes_by_source = {"model": 0, "human": 0}
        self._per_label: dict[str, dict[str, int]] = {}
        self._human_changes = dict.fromkeys(CHANGE_KINDS, 0)
        self._dropped_other_label = 0
        self._answer_checks = dict.fromkeys(CHECK_KINDS, 0)
        self._errors: list[dict[str, str]] = []

    def add(self, record: Mapping[str, Any]) -> None:
        status = record["status"]
        if status not in STATUSES:
            raise ValueError(
                f"record for {record.get('image_s3_uri')} has status {status!r}, not one of {STATUSES}"
            )
        self._images += 1
        self._by_status[status] += 1
        for box in record["boxes"]:
            self._boxes += 1
            self._boxes_by_source[box["source"]] = self._boxes_by_source.get(box["source"], 0) + 1
            self._label(box["label"])["final"] += 1
        for box in record["model_boxes"]:
            self._label(box["label"])["model"] += 1
        for kind, items in (record.get("changes") or {}).items():
            for item in items:
                label = item["to"]["label"] if kind == "moved" else item["label"]
                self._label(label)[kind] += 1
                self._human_changes[kind] += 1
        self._dropped_other_label += record.get("dropped_other_label", 0)
        for kind, items in ((record.get("review") or {}).get("answer_checks") or {}).items():
            self._answer_checks[kind] += len(items)
        if record.get("error"):
            self._add_errors([{"image_s3_uri": record["image_s3_uri"], "error": record["error"]}])

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": self._images,
            "by_status": dict(self._by_status),
            "boxes": self._boxes,
            "boxes_by_source": dict(self._boxes_by_source),
            "per_label": {label: dict(self._per_label[label]) for label in sorted(self._per_label)},
            "human_changes": dict(self._human_changes),
            "dropped_other_label": self._dropped_other_label,
            "answer_checks": dict(self._answer_checks),
            "errors": [dict(error) for error in self._errors],
        }

    def _label(self, label: str) -> dict[str, int]:
        if label not in self._per_label:
            self._per_label[label] = {"model": 0, "final": 0, **dict.fromkeys(CHANGE_KINDS, 0)}
        return self._per_label[label]

    def _add_errors(self, errors: Sequence[Mapping[str, str]]) -> None:
        room = MAX_SUMMARY_ERRORS - len(self._errors)
        self._errors.extend(dict(error) for error in errors[: max(room, 0)])


def format_summary(summary: Mapping[str, Any]) -> str:
    """The summary as text for the task log; extra keys such as `run_id` are shown when present."""
    by_status = summary["by_status"]
    sources = summary["boxes_by_source"]
    changes = summary["human_changes"]
    lines = [f"{key}: {summary[key]}" for key in ("run_id", "inference", "results_s3_uri") if key in summary]
    statuses = ", ".join(f"{status} {by_status.get(status, 0)}" for status in STATUSES)
    lines += [
        f"Images: {summary['images']} ({statuses})",
        f"Final boxes: {summary['boxes']} ({', '.join(f'{source} {n}' for source, n in sources.items())})",
        "Reviewers' changes: " + ", ".join(f"{changes.get(kind, 0)} {kind}" for kind in CHANGE_KINDS),
        f"Detections of other labels dropped: {summary['dropped_other_label']}",
    ]
    checks = summary.get("answer_checks") or {}
    if any(checks.values()):
        lines.append(
            "Reviewers' answers corrected: "
            + ", ".join(f"{checks.get(kind, 0)} {kind.replace('_', ' ')}" for kind in CHECK_KINDS)
        )
    if summary["per_label"]:
        lines.append("Per label (model -> final; added, removed, moved):")
        width = max(len(label) for label in summary["per_label"])
        for label, counts in summary["per_label"].items():
            lines.append(
                f"  {label:<{width}}  {counts['model']} -> {counts['final']}; "
                f"+{counts['added']} -{counts['removed']} ~{counts['moved']}"
            )
    if summary["errors"]:
        failed = by_status.get("error", 0) + by_status.get("review_failed", 0)
        shown = len(summary["errors"])
        lines.append(f"Errors ({failed}):" if shown >= failed else f"Errors ({failed}, the first {shown}):")
        lines.extend(f"  {error['image_s3_uri']}: {error['error']}" for error in summary["errors"])
    return "\n".join(lines)
