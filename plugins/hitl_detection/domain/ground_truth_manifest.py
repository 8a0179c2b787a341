"""SageMaker Ground Truth's bounding-box output format: an augmented manifest, a JSON line per image.

    {"source-ref": "s3://bucket/key",
     "bounding-box": {"image_size": [{"width", "height", "depth"}],
                      "annotations": [{"class_id", "left", "top", "width", "height"}]},
     "bounding-box-metadata": {"objects": [{"confidence"}], "class-map": {"0": label, ...},
                               "type": "groundtruth/object-detection", "human-annotated": "yes"|"no",
                               "creation-date", "job-name"}}

SageMaker training reads it with `AttributeNames: ["source-ref", "bounding-box"]` (its built-in
object detection algorithm, in pipe mode), and so do Ground Truth (as a labeled input) and
Rekognition Custom Labels. Pixels are whole numbers; `depth` is 3, as Ground Truth writes it for
colour images. `confidence` is the model's score for its boxes and 1 for a box a person drew.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hitl_detection.domain.training_sets import TrainingImage

LABEL_ATTRIBUTE = "bounding-box"
OBJECT_DETECTION_TYPE = "groundtruth/object-detection"
IMAGE_DEPTH = 3


def manifest_line(image: TrainingImage, labels: Sequence[str]) -> dict[str, Any]:
    boxes = [training_box.box for training_box in image.boxes]
    return {
        "source-ref": image.s3_uri,
        LABEL_ATTRIBUTE: {
            "image_size": [{"width": image.width, "height": image.height, "depth": IMAGE_DEPTH}],
            "annotations": [
                {
                    "class_id": training_box.class_id,
                    "left": round(training_box.box.left),
                    "top": round(training_box.box.top),
                    "width": round(training_box.box.width),
                    "height": round(training_box.box.height),
                }
                for training_box in image.boxes
            ],
        },
        f"{LABEL_ATTRIBUTE}-metadata": {
            "objects": [{"confidence": 1.0 if box.score is None else box.score} for box in boxes],
            "class-map": {str(class_id): label for class_id, label in enumerate(labels)},
            "type": OBJECT_DETECTION_TYPE,
            "human-annotated": "yes" if image.human_annotated else "no",
            "creation-date": image.source.published_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
            "job-name": image.source.run_id,
        },
    }
