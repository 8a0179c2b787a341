"""Read the reviewers' answers out of a completed human loop's output.json.

A2I writes one `humanAnswers` entry per worker and does not merge them; this module turns each
entry into boxes, and names the answer and box when one is malformed, so a bad answer fails
that image's review instead of the run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.json_text import load_json
from hitl_detection.domain.review_tasks import ReviewerAnswer


class AnswerFormatError(ValueError):
    """output.json does not have the shape A2I writes for a crowd-bounding-box task."""


def parse_human_loop_output(
    document: bytes | str | Mapping[str, Any], element_name: str = "annotatedResult"
) -> list[ReviewerAnswer]:
    """Every reviewer's answer in a loop's output.json, in A2I's order.

    `element_name` is the `name` of the template's crowd-bounding-box element. A missing
    `boundingBoxes` means the reviewer left no box, which is a valid answer.
    """
    output = _load(document)
    answers = output.get("humanAnswers")
    if not isinstance(answers, list):
        raise AnswerFormatError(f"output.json humanAnswers is {_short(answers)}, expected a list of answers")
    if not answers:
        raise AnswerFormatError("output.json has no humanAnswers; expected at least one reviewer's answer")
    return [
        _parse_answer(f"humanAnswers[{index}]", answer, element_name) for index, answer in enumerate(answers)
    ]


def _load(document: bytes | str | Mapping[str, Any]) -> Mapping[str, Any]:
    document = load_json(document, AnswerFormatError, "output.json")
    if not isinstance(document, Mapping):
        raise AnswerFormatError(f"output.json is a {type(document).__name__}, expected a JSON object")
    return document


def _parse_answer(where: str, answer: Any, element_name: str) -> ReviewerAnswer:
    answer = _object(where, answer)
    worker_id = answer.get("workerId")
    if not isinstance(worker_id, str) or not worker_id:
        raise AnswerFormatError(f"{where}.workerId is {_short(worker_id)}, expected a non-empty string")
    content = _object(f"{where}.answerContent", answer.get("answerContent"))
    if element_name not in content:
        raise AnswerFormatError(
            f"{where}.answerContent has no {element_name!r} (keys: {sorted(content)}); "
            "expected the name of the template's crowd-bounding-box element"
        )
    element_where = f"{where}.answerContent.{element_name}"
    element = _object(element_where, content[element_name])
    raw_boxes = element.get("boundingBoxes", [])
    if not isinstance(raw_boxes, list):
        raise AnswerFormatError(f"{element_where}.boundingBoxes is {_short(raw_boxes)}, expected a list")
    boxes = tuple(
        _parse_box(f"{element_where}.boundingBoxes[{index}]", raw) for index, raw in enumerate(raw_boxes)
    )
    submission_time = answer.get("submissionTime")
    if submission_time is not None and not isinstance(submission_time, str):
        raise AnswerFormatError(
            f"{where}.submissionTime is {_short(submission_time)}, expected an ISO 8601 string"
        )
    time_spent = answer.get("timeSpentInSeconds")
    if time_spent is not None:
        time_spent = float(_number(f"{where}.timeSpentInSeconds", time_spent, minimum=0))
    return ReviewerAnswer(
        worker_id=worker_id,
        boxes=boxes,
        image_size=_image_size(f"{element_where}.inputImageProperties", element.get("inputImageProperties")),
        submission_time=submission_time,
        time_spent_seconds=time_spent,
    )


def _parse_box(where: str, raw: Any) -> Box:
    raw = _object(where, raw)
    label = raw.get("label")
    if not isinstance(label, str) or not label.strip():
        raise AnswerFormatError(f"{where}.label is {_short(label)}, expected a non-empty string")
    left = _number(f"{where}.left", raw.get("left"))
    top = _number(f"{where}.top", raw.get("top"))
    width = _number(f"{where}.width", raw.get("width"), minimum=0)
    height = _number(f"{where}.height", raw.get("height"), minimum=0)
    return Box(label=label, left=left, top=top, width=width, height=height, score=None, source="human")


def _image_size(where: str, properties: Any) -> tuple[int, int] | None:
    if properties is None:
        return None
    properties = _object(where, properties)
    width = _number(f"{where}.width", properties.get("width"), minimum=1)
    height = _number(f"{where}.height", properties.get("height"), minimum=1)
    if not (float(width).is_integer() and float(height).is_integer()):
        raise AnswerFormatError(f"{where} is {width}x{height}, expected whole pixels")
    return int(width), int(height)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _object(where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AnswerFormatError(f"{where} is {_short(value)}, expected a JSON object")
    return value


def _number(where: str, value: Any, minimum: float | None = None) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AnswerFormatError(f"{where} is {_short(value)}, expected a number")
    if minimum is not None and value < minimum:
        raise AnswerFormatError(f"{where} is {value}, expected a number >= {minimum}")
    return value
