"""The per-image rows the stages of a run write for each other, one JSON object per line.

`images` rows list a batch; `predictions` rows carry what the model said; `decisions` rows what
the gate made of it; `reviews` rows the review task started for an image. Each stage reads the
previous stage's rows for its batch; building and reading them here keeps the shape in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hitl_detection.boxes import Box
from hitl_detection.gating import GateDecision


def image_row(image_key: str, image_s3_uri: str) -> dict[str, Any]:
    return {"image_key": image_key, "image_s3_uri": image_s3_uri}


def prediction_row(
    image: Mapping[str, Any],
    *,
    image_size: tuple[int, int] | None = None,
    detections: list[Box] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """`detections` is None exactly when `error` says why there are none."""
    return {
        **image_row(image["image_key"], image["image_s3_uri"]),
        "image_size": size_record(image_size),
        "detections": None if detections is None else [box.to_record() for box in detections],
        "error": error,
    }


def decision_row(prediction: Mapping[str, Any], decision: GateDecision | None) -> dict[str, Any]:
    return {
        **image_row(prediction["image_key"], prediction["image_s3_uri"]),
        "image_size": prediction["image_size"],
        "error": prediction["error"],
        "decision": None if decision is None else decision_to_dict(decision),
    }


def size_record(image_size: tuple[int, int] | None) -> dict[str, int] | None:
    return None if image_size is None else {"width": image_size[0], "height": image_size[1]}


def size_from_record(record: Mapping[str, int] | None) -> tuple[int, int] | None:
    return None if record is None else (record["width"], record["height"])


def boxes_from_records(records: list[Mapping[str, Any]] | None) -> list[Box]:
    return [Box.from_record(record) for record in records or ()]


def decision_to_dict(decision: GateDecision) -> dict[str, Any]:
    return {
        "kept": [box.to_record() for box in decision.kept],
        "accepted": [box.to_record() for box in decision.accepted],
        "uncertain": [box.to_record() for box in decision.uncertain],
        "dropped_low_score": decision.dropped_low_score,
        "dropped_other_label": decision.dropped_other_label,
        "needs_review": decision.needs_review,
        "reasons": list(decision.reasons),
    }


def decision_from_dict(data: Mapping[str, Any]) -> GateDecision:
    return GateDecision(
        kept=tuple(boxes_from_records(data["kept"])),
        accepted=tuple(boxes_from_records(data["accepted"])),
        uncertain=tuple(boxes_from_records(data["uncertain"])),
        dropped_low_score=data["dropped_low_score"],
        dropped_other_label=data["dropped_other_label"],
        needs_review=data["needs_review"],
        reasons=tuple(data["reasons"]),
    )
