"""Parse the GluonCV SSD container's answer into boxes, rejecting anything malformed.

A bad answer for one image must fail that image with a message that says what is wrong, not
surface later as a nonsense box in a review task or a result record.
"""

from __future__ import annotations

import math
from typing import Any

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.json_text import load_json

DETECTION_FIELDS = ("id", "score", "left", "top", "right", "bottom")
# The container clips boxes to the image; allow rounding to land a pixel outside.
EDGE_TOLERANCE_PIXELS = 1


class DetectorOutputError(ValueError):
    """The endpoint's answer is not a valid GluonCV detection list."""


def parse_detections(
    payload: bytes | str | list[Any], image_size: tuple[int, int] | None = None
) -> list[Box]:
    """Boxes (source "model") from `[{"id", "score", "left", "top", "right", "bottom"}, ...]`.

    With `image_size` (width, height), a box reaching more than a pixel outside the image is an
    error: it means the answer belongs to another image or another resolution.
    """
    detections = _load(payload)
    return [_parse_detection(index, item, image_size) for index, item in enumerate(detections)]


def _load(payload: bytes | str | list[Any]) -> list[Any]:
    payload = load_json(payload, DetectorOutputError, "detector output")
    if not isinstance(payload, list):
        raise DetectorOutputError(
            f"detector output is a {_type_name(payload)}, expected a JSON list of detections"
        )
    return payload


def _parse_detection(index: int, item: Any, image_size: tuple[int, int] | None) -> Box:
    where = f"detection {index}"
    if not isinstance(item, dict):
        raise DetectorOutputError(
            f"{where} is a {_type_name(item)}, expected an object with {', '.join(DETECTION_FIELDS)}"
        )
    missing = [name for name in DETECTION_FIELDS if name not in item]
    if missing:
        raise DetectorOutputError(
            f"{where} has no {', '.join(missing)}; expected {', '.join(DETECTION_FIELDS)}"
        )
    label = item["id"]
    if not isinstance(label, str) or not label.strip():
        raise DetectorOutputError(f"{where} id {label!r} is not a class name; expected a non-empty string")
    score, left, top, right, bottom = (_number(where, name, item[name]) for name in DETECTION_FIELDS[1:])
    if not 0 <= score <= 1:
        raise DetectorOutputError(f"{where} score {score} is outside 0-1")
    if right < left:
        raise DetectorOutputError(f"{where} right {right} is left of left {left}")
    if bottom < top:
        raise DetectorOutputError(f"{where} bottom {bottom} is above top {top}")
    if image_size is not None:
        width, height = image_size
        tolerance = EDGE_TOLERANCE_PIXELS
        if left < -tolerance or top < -tolerance or right > width + tolerance or bottom > height + tolerance:
            raise DetectorOutputError(
                f"{where} box (left {left}, top {top}, right {right}, bottom {bottom}) is outside "
                f"the {width}x{height} image"
            )
    return Box(
        label=label, left=left, top=top, width=right - left, height=bottom - top, score=score, source="model"
    )


def _number(where: str, name: str, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DetectorOutputError(f"{where} {name} {value!r} is a {_type_name(value)}, expected a number")
    if not math.isfinite(value):
        raise DetectorOutputError(f"{where} {name} is {value}, expected a finite number")
    return value


def _type_name(value: Any) -> str:
    return {dict: "JSON object", list: "JSON list", str: "string", type(None): "null"}.get(
        type(value), type(value).__name__
    )
