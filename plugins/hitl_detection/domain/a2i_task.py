"""Build the InputContent of an A2I human loop for one image: the task the reviewer sees.

The worker template renders this document; anything it cannot render makes the loop fail only
after StartHumanLoop succeeded, so the limits of crowd-bounding-box and A2I are checked here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.labels import MAX_LABELS, label_problems
from hitl_detection.domain.review_tasks import TaskInputError, boxes_among_labels
from hitl_detection.domain.s3_uri import S3UriError, parse_s3_uri

__all__ = ["MAX_INPUT_CONTENT_CHARS", "MAX_LABELS", "TaskInputError", "build_input_content"]

MAX_INPUT_CONTENT_CHARS = 3_145_728


def build_input_content(
    image_s3_uri: str,
    initial_boxes: Sequence[Box],
    labels: Sequence[str],
    uncertain_boxes: Sequence[Box] = (),
) -> str:
    """`{"taskObject", "initialValue", "labels", "uncertain"}` as compact JSON.

    `initialValue` holds the boxes the reviewer starts from (crowd-bounding-box `initial-value`);
    `uncertain` the boxes shown as hints, with their scores. Coordinates are whole pixels.
    """
    try:
        _, key = parse_s3_uri(image_s3_uri)
    except S3UriError as error:
        raise TaskInputError(f"image_s3_uri: {error}") from error
    if not key or key.endswith("/"):
        raise TaskInputError(f"image_s3_uri {image_s3_uri!r} names a prefix, expected an image object")
    problems = label_problems(labels)
    if problems:
        raise TaskInputError("; ".join(problems))
    document = {
        "taskObject": image_s3_uri,
        "initialValue": [_pixel_box(box) for box in boxes_among_labels("initial box", initial_boxes, labels)],
        "labels": list(labels),
        "uncertain": [
            {**_pixel_box(box), "score": box.score}
            for box in boxes_among_labels("uncertain box", uncertain_boxes, labels)
        ],
    }
    content = json.dumps(document, separators=(",", ":"))
    if len(content) > MAX_INPUT_CONTENT_CHARS:
        raise TaskInputError(
            f"InputContent is {len(content):,} characters, above the A2I limit of {MAX_INPUT_CONTENT_CHARS:,}"
        )
    return content


def _pixel_box(box: Box) -> dict[str, Any]:
    """Round the edges, not the size, so a rounded box covers the same pixels as the original."""
    left, top = round(box.left), round(box.top)
    return {
        "label": box.label,
        "left": left,
        "top": top,
        "width": round(box.right) - left,
        "height": round(box.bottom) - top,
    }
