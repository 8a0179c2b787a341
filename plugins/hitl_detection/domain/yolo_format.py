"""YOLO labels: one text file per image, a line per box, and the class list.

A line is `<class id> <x center> <y center> <width> <height>`, normalised by the image's size.
A trainer finds an image's labels by swapping `images/` for `labels/` in its path and its
extension for `.txt`, so label files are named after the image's `<bucket>/<key>`: copy a bucket
into `images/<bucket>/` and the labels under `labels/` line up. An image with no box gets an
empty file (a background image, as YOLO trainers expect).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hitl_detection.domain.training_sets import TrainingImage

LABELS_FOLDER = "labels"


def yolo_label_path(image_path: str) -> str:
    """`labels/<bucket>/<key without its extension>.txt` for the image at `<bucket>/<key>`."""
    return f"{LABELS_FOLDER}/{PurePosixPath(image_path).with_suffix('.txt')}"


def yolo_label_text(image: TrainingImage) -> str:
    lines = []
    for training_box in image.boxes:
        box = training_box.box
        x_center = (box.left + box.width / 2) / image.width
        y_center = (box.top + box.height / 2) / image.height
        lines.append(
            f"{training_box.class_id} {x_center:.6f} {y_center:.6f} "
            f"{box.width / image.width:.6f} {box.height / image.height:.6f}\n"
        )
    return "".join(lines)


def yolo_classes_text(labels: Sequence[str]) -> str:
    """One class name a line, line n naming class id n (Darknet's `obj.names`)."""
    return "".join(f"{label}\n" for label in labels)
