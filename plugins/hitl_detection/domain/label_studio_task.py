"""Build the Label Studio task for one image: its data and the model's prediction.

Label Studio places boxes in percent of the image, the pipeline in pixels of the stored image;
this module and label_studio_answers convert between the two, the same way both ways. The task
data carries what finds the task again and reads its answers back: the image's S3 URI under
`image` (resolved by the project's S3 storage when a reviewer opens it), the run, the image key,
the task's deterministic name, the stored image's size and the run's labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.label_studio_config import IMAGE_DATA_FIELD, LabelingConfig
from hitl_detection.domain.labels import label_problems
from hitl_detection.domain.review_tasks import ReviewRequest, TaskInputError, boxes_among_labels
from hitl_detection.domain.s3_uri import S3UriError, parse_s3_uri

# Task data fields besides `image`. `run` and `image_key` are what a task is looked up by.
RUN_FIELD = "run"
IMAGE_KEY_FIELD = "image_key"
NAME_FIELD = "name"
WIDTH_FIELD = "image_width"
HEIGHT_FIELD = "image_height"
LABELS_FIELD = "labels"
HINTS_FIELD = "hints"  # the model's uncertain boxes, in words: shown, never drawn
REGION_TYPE = "rectanglelabels"


def build_task(
    request: ReviewRequest, *, name: str, config: LabelingConfig, model_version: str
) -> dict[str, Any]:
    """`{"data": {...}, "predictions": [prediction]}` as Label Studio's import takes it.

    The prediction holds the model's confident boxes (percent of the image, each with its score),
    under the project's `model_version` so that the project shows it to reviewers.
    """
    try:
        _, key = parse_s3_uri(request.image_s3_uri)
    except S3UriError as error:
        raise TaskInputError(f"image_s3_uri: {error}") from error
    if not key or key.endswith("/"):
        raise TaskInputError(
            f"image_s3_uri {request.image_s3_uri!r} names a prefix, expected an image object"
        )
    if request.image_size is None:
        raise TaskInputError(
            f"the size of {request.image_s3_uri} is unknown; Label Studio places boxes in percent of it"
        )
    problems = label_problems(request.labels)
    if problems:
        raise TaskInputError("; ".join(problems))
    initial = boxes_among_labels("initial box", request.initial_boxes, request.labels)
    uncertain = boxes_among_labels("uncertain box", request.uncertain_boxes, request.labels)
    width, height = request.image_size
    data = {
        IMAGE_DATA_FIELD: request.image_s3_uri,
        RUN_FIELD: request.run_key,
        IMAGE_KEY_FIELD: request.image_key,
        NAME_FIELD: name,
        WIDTH_FIELD: width,
        HEIGHT_FIELD: height,
        LABELS_FIELD: list(request.labels),
        HINTS_FIELD: hints_text(uncertain),
    }
    regions = [box_to_region(box, request.image_size, config) for box in initial]
    prediction: dict[str, Any] = {"model_version": model_version, "result": regions}
    scores = [box.score for box in initial if box.score is not None]
    if scores:
        prediction["score"] = min(scores)  # the least sure of what is drawn
    return {"data": data, "predictions": [prediction]}


def box_to_region(box: Box, image_size: tuple[int, int], config: LabelingConfig) -> dict[str, Any]:
    """A box in pixels of the stored image as a RectangleLabels region in percent of it."""
    width, height = image_size
    region: dict[str, Any] = {
        "from_name": config.control,
        "to_name": config.image,
        "type": REGION_TYPE,
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
        "value": {
            "x": 100 * box.left / width,
            "y": 100 * box.top / height,
            "width": 100 * box.width / width,
            "height": 100 * box.height / height,
            "rotation": 0,
            REGION_TYPE: [box.label],
        },
    }
    if box.score is not None:
        region["score"] = box.score
    return region


def hints_text(boxes: Sequence[Box]) -> str:
    """The uncertain boxes in words, for reviewers to check: label, score and place in pixels."""
    if not boxes:
        return "nothing"
    return "; ".join(
        f"{box.label} {_percent(box.score)} at left {round(box.left)}, top {round(box.top)}, "
        f"{round(box.width)} x {round(box.height)} px"
        for box in boxes
    )


def _percent(score: float | None) -> str:
    return "(no score)" if score is None else f"{score:.0%}"
