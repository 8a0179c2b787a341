"""Read a Label Studio task back: is it finished, who skipped it, and every reviewer's boxes.

A task is finished when it holds the project's number of submitted annotations; an annotation
with `was_cancelled` is a reviewer's skip, which ends the task without an answer. Boxes come back
in percent of the image the reviewer saw (`original_width` x `original_height`); they are turned
into whole pixels of that image, which is the answer's `image_size`. Whether that is the stored
image's size, whether a label is one of the run's and whether a box lies inside the image is
checked for every backend alike (`answer_checks`). A malformed answer names the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.label_studio_task import HEIGHT_FIELD, REGION_TYPE, WIDTH_FIELD
from hitl_detection.domain.review_tasks import ReviewerAnswer

PENDING = "pending"
FINISHED = "finished"
SKIPPED = "skipped"


class AnnotationFormatError(ValueError):
    """A task or annotation does not have the shape Label Studio gives for RectangleLabels."""


def review_state(task: Mapping[str, Any], required: int) -> str:
    """SKIPPED when a reviewer skipped it, FINISHED once `required` annotations are submitted,
    else PENDING. Reads the task's counters, which Label Studio keeps with its annotations."""
    cancelled = _count(task, "cancelled_annotations")
    submitted = _count(task, "total_annotations")
    if cancelled:
        return SKIPPED
    return FINISHED if submitted >= required else PENDING


def skipped_by(task: Mapping[str, Any]) -> list[str]:
    """Who skipped the task (their e-mail, else their user id), in the order they did."""
    return [
        _who(f"annotations[{index}]", annotation)
        for index, annotation in enumerate(_annotations(task))
        if annotation.get("was_cancelled")
    ]


def parse_answers(task: Mapping[str, Any]) -> list[ReviewerAnswer]:
    """Every submitted (not skipped) annotation of the task as a reviewer's answer, in order.

    Boxes are in whole pixels of the image the reviewer saw (the stored image's size, which the
    task data holds, when a region does not say); other result types than RectangleLabels (a
    comment, say) are not boxes and are left out.
    """
    stored = _stored_size(_object("data", task.get("data")))
    return [
        _parse_annotation(f"annotations[{index}]", annotation, stored)
        for index, annotation in enumerate(_annotations(task))
        if not annotation.get("was_cancelled")
    ]


def region_to_box(
    where: str, region: Mapping[str, Any], stored_size: tuple[int, int] | None
) -> tuple[Box, tuple[int, int]]:
    """A RectangleLabels region as a box in whole pixels of the image the reviewer saw, and that
    image's size. A rotated box becomes the upright box around it, which may reach out of it."""
    size = _seen_size(where, region, stored_size)
    rotation = region.get("image_rotation", 0)
    if rotation not in (0, None):
        raise AnnotationFormatError(
            f"{where}.image_rotation is {_short(rotation)}: the reviewer turned the image; expected 0"
        )
    value = _object(f"{where}.value", region.get("value"))
    label = _label(f"{where}.value.{REGION_TYPE}", value.get(REGION_TYPE))
    width, height = size
    x = _number(f"{where}.value.x", value.get("x")) * width / 100
    y = _number(f"{where}.value.y", value.get("y")) * height / 100
    w = _number(f"{where}.value.width", value.get("width"), minimum=0) * width / 100
    h = _number(f"{where}.value.height", value.get("height"), minimum=0) * height / 100
    angle = math.radians(_number(f"{where}.value.rotation", value.get("rotation", 0)))
    # Label Studio turns a box about its top-left corner, clockwise on screen (y points down).
    cos, sin = math.cos(angle), math.sin(angle)
    corners = [
        (x + dx * cos - dy * sin, y + dx * sin + dy * cos) for dx, dy in ((0, 0), (w, 0), (0, h), (w, h))
    ]
    left = _whole(min(cx for cx, _ in corners))
    right = _whole(max(cx for cx, _ in corners))
    top = _whole(min(cy for _, cy in corners))
    bottom = _whole(max(cy for _, cy in corners))
    box = Box(label=label, left=left, top=top, width=right - left, height=bottom - top, source="human")
    return box, size


def _parse_annotation(
    where: str, annotation: Mapping[str, Any], stored: tuple[int, int] | None
) -> ReviewerAnswer:
    result = annotation.get("result")
    if result is None:
        result = []
    if not isinstance(result, list):
        raise AnnotationFormatError(f"{where}.result is {_short(result)}, expected a list of regions")
    boxes = []
    seen: tuple[int, int] | None = None
    for index, region in enumerate(result):
        region_where = f"{where}.result[{index}]"
        region = _object(region_where, region)
        if region.get("type") != REGION_TYPE:
            continue
        box, seen = region_to_box(region_where, region, stored)
        boxes.append(box)
    created_at = annotation.get("created_at")
    if created_at is not None and not isinstance(created_at, str):
        raise AnnotationFormatError(
            f"{where}.created_at is {_short(created_at)}, expected an ISO 8601 string"
        )
    lead_time = annotation.get("lead_time")
    if lead_time is not None:
        lead_time = float(_number(f"{where}.lead_time", lead_time, minimum=0))
    return ReviewerAnswer(
        worker_id=_who(where, annotation),
        boxes=tuple(boxes),
        image_size=seen,
        submission_time=created_at,
        time_spent_seconds=lead_time,
    )


def _annotations(task: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    annotations = task.get("annotations")
    if not isinstance(annotations, list):
        raise AnnotationFormatError(f"annotations is {_short(annotations)}, expected a list")
    return [_object(f"annotations[{index}]", item) for index, item in enumerate(annotations)]


def _who(where: str, annotation: Mapping[str, Any]) -> str:
    """A reviewer by e-mail when Label Studio gives the user (a task read by id), else by user id."""
    user = annotation.get("completed_by")
    if isinstance(user, Mapping):
        if isinstance(user.get("email"), str) and user["email"]:
            return user["email"]
        user = user.get("id")
    if isinstance(user, bool) or not isinstance(user, int):
        raise AnnotationFormatError(f"{where}.completed_by is {_short(user)}, expected a user or a user id")
    return f"user {user}"


def _stored_size(data: Mapping[str, Any]) -> tuple[int, int] | None:
    width, height = data.get(WIDTH_FIELD), data.get(HEIGHT_FIELD)
    if width is None and height is None:
        return None
    return _size(f"data.{WIDTH_FIELD} x data.{HEIGHT_FIELD}", width, height)


def _seen_size(where: str, region: Mapping[str, Any], stored: tuple[int, int] | None) -> tuple[int, int]:
    width, height = region.get("original_width"), region.get("original_height")
    if width is None and height is None:
        if stored is None:
            raise AnnotationFormatError(
                f"{where} has no original_width and original_height, and the task data no image size"
            )
        return stored
    return _size(f"{where}.original_width x original_height", width, height)


def _size(where: str, width: Any, height: Any) -> tuple[int, int]:
    values = []
    for value in (width, height):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise AnnotationFormatError(
                f"{where} is {_short(width)} x {_short(height)}, expected whole pixels"
            )
        if value < 1 or not float(value).is_integer():
            raise AnnotationFormatError(f"{where} is {width} x {height}, expected whole pixels >= 1")
        values.append(int(value))
    return values[0], values[1]


def _label(where: str, value: Any) -> str:
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], str) or not value[0]:
        raise AnnotationFormatError(f"{where} is {_short(value)}, expected a list of one label")
    return value[0]


def _count(task: Mapping[str, Any], name: str) -> int:
    value = task.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AnnotationFormatError(f"task {name} is {_short(value)}, expected a count")
    return value


def _whole(value: float) -> int:
    """Half up, as the merge of reviewers rounds; undoes the float error of a percent round trip."""
    return math.floor(value + 0.5)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _object(where: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise AnnotationFormatError(f"{where} is {_short(value)}, expected a JSON object")
    return value


def _number(where: str, value: Any, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AnnotationFormatError(f"{where} is {_short(value)}, expected a number")
    if minimum is not None and value < minimum:
        raise AnnotationFormatError(f"{where} is {value}, expected a number >= {minimum}")
    return value
