"""COCO object detection JSON, written as a stream.

A COCO file is one JSON document whose `images` and `annotations` arrays are cross-referenced
by ids, which is why it is usually built in memory. Here the images are written as they come and
their annotations wait in a scratch file, appended after the last image: memory holds one image.

Category ids are the class ids plus one (COCO keeps 0 for the background); `bbox` is
`[left, top, width, height]` in pixels, as in the records; `file_name` is `<bucket>/<key>`, with
the S3 URI beside it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from hitl_detection.domain.training_sets import TrainingImage

SUPERCATEGORY = "object"


class CocoWriter:
    """Write a COCO document to `out`; `annotations` is a scratch file the writer reads back."""

    def __init__(
        self,
        out: TextIO,
        annotations: TextIO,
        labels: Sequence[str],
        description: str,
        created_at: datetime,
    ) -> None:
        self._out = out
        self._annotations = annotations
        self._images = 0
        self._boxes = 0
        head = {
            "info": {
                "description": description,
                "date_created": created_at.isoformat(),
                "year": created_at.year,
                "version": "1.0",
            },
            "licenses": [],
            "categories": [
                {"id": class_id + 1, "name": label, "supercategory": SUPERCATEGORY}
                for class_id, label in enumerate(labels)
            ],
        }
        out.write(json.dumps(head, sort_keys=True)[:-1] + ', "images": [')

    def add(self, image: TrainingImage) -> None:
        self._images += 1
        entry = {
            "id": self._images,
            "file_name": image.path,
            "s3_uri": image.s3_uri,
            "width": image.width,
            "height": image.height,
        }
        self._out.write(("," if self._images > 1 else "") + json.dumps(entry, sort_keys=True))
        for training_box in image.boxes:
            self._boxes += 1
            box = training_box.box
            annotation: dict[str, Any] = {
                "id": self._boxes,
                "image_id": self._images,
                "category_id": training_box.class_id + 1,
                "bbox": [box.left, box.top, box.width, box.height],
                "area": box.area,
                "iscrowd": 0,
                "source": box.source,
            }
            if box.score is not None:
                annotation["score"] = box.score
            self._annotations.write(("," if self._boxes > 1 else "") + json.dumps(annotation, sort_keys=True))

    def close(self) -> None:
        """Append the annotations after the images and end the document."""
        self._out.write('], "annotations": [')
        self._annotations.seek(0)
        shutil.copyfileobj(self._annotations, self._out)
        self._out.write("]}\n")
