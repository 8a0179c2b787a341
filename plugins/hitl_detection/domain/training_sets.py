"""Training sets from result records: which images go in, with which boxes and class ids.

Only images whose final boxes someone vouched for go in: `accepted` (every detection was
confident) and `reviewed` (people drew the final boxes). `error` and `review_failed` images are
listed with their reason instead, never exported: a training set holding unreviewed guesses
would teach the model its own mistakes. So is an accepted or reviewed record a trainer could not
use (no image size, a label outside the class list).

Class ids follow the order of the labels (0-based; COCO category ids are these plus one), so a
label has the same id in every format of an export. Boxes are clipped to the image, and one left
with no area is dropped: no format accepts a box outside its image.

The formats (`coco_format`, `yolo_format`, `ground_truth_manifest`) are written side by side by
`TrainingSetWriter`, one image at a time, so that memory holds one image, never the set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, TextIO

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.coco_format import CocoWriter
from hitl_detection.domain.ground_truth_manifest import manifest_line
from hitl_detection.domain.s3_uri import parse_s3_uri
from hitl_detection.domain.yolo_format import yolo_label_path, yolo_label_text

EXPORTED_STATUSES = ("accepted", "reviewed")


class ClassList:
    """The classes of a training set, in id order."""

    def __init__(self, labels: Sequence[str]) -> None:
        if not labels:
            raise ValueError("a training set needs at least one class; got no labels")
        if len(set(labels)) != len(labels):
            raise ValueError(f"the classes {list(labels)} repeat a label; expected each once")
        self.labels = tuple(labels)
        self._ids = {label: index for index, label in enumerate(self.labels)}

    @classmethod
    def merged(cls, label_lists: Iterable[Sequence[str]]) -> ClassList:
        """Every label of several runs, each where it first appears: list the oldest run first and
        the ids of its labels stay those of its own export."""
        return cls(list(dict.fromkeys(label for labels in label_lists for label in labels)))

    def class_id(self, label: str) -> int | None:
        return self._ids.get(label)


@dataclass(frozen=True)
class RunSource:
    """The run a record comes from: named in the manifest as its job, dated when it published."""

    run_id: str
    published_at: datetime


@dataclass(frozen=True)
class TrainingBox:
    class_id: int
    box: Box


@dataclass(frozen=True)
class TrainingImage:
    """One exported image: its size, its boxes (clipped, with class ids), who drew them."""

    s3_uri: str
    width: int
    height: int
    boxes: tuple[TrainingBox, ...]
    human_annotated: bool
    source: RunSource

    @property
    def path(self) -> str:
        """`<bucket>/<key>`: where the image lands when a bucket is copied into a folder of its name."""
        bucket, key = parse_s3_uri(self.s3_uri)
        return f"{bucket}/{key}"


@dataclass(frozen=True)
class Exclusion:
    """An image left out of the training set, and why."""

    image_s3_uri: str
    status: str
    reason: str
    run_id: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


def training_item(
    record: Mapping[str, Any], classes: ClassList, source: RunSource
) -> TrainingImage | Exclusion:
    """What one result record contributes: an image to export, or the reason it is left out."""
    uri, status = record["image_s3_uri"], record["status"]

    def excluded(reason: str) -> Exclusion:
        return Exclusion(uri, status, reason, source.run_id)

    if status not in EXPORTED_STATUSES:
        return excluded(record.get("error") or f"status {status}")
    size = record.get("image_size")
    if not size:
        return excluded(f"a {status} record with no image_size: its boxes cannot be placed")
    width, height = size["width"], size["height"]
    boxes = []
    for box in (Box.from_record(found) for found in record["boxes"]):
        class_id = classes.class_id(box.label)
        if class_id is None:
            return excluded(f"box label {box.label!r} is not one of the classes {list(classes.labels)}")
        clipped = _clip(box, width, height)
        if clipped is not None:
            boxes.append(TrainingBox(class_id, clipped))
    return TrainingImage(uri, width, height, tuple(boxes), status == "reviewed", source)


def _clip(box: Box, width: int, height: int) -> Box | None:
    left, top = max(box.left, 0), max(box.top, 0)
    right, bottom = min(box.right, width), min(box.bottom, height)
    if right <= left or bottom <= top:
        return None
    return Box(box.label, left, top, right - left, bottom - top, box.score, box.source)


@dataclass(frozen=True)
class TrainingSetLayout:
    """Where an export's files go: everything under one prefix (ending with '/')."""

    bucket: str
    prefix: str

    @property
    def coco_key(self) -> str:
        return f"{self.prefix}coco.json"

    @property
    def manifest_key(self) -> str:
        return f"{self.prefix}manifest.jsonl"

    @property
    def excluded_key(self) -> str:
        return f"{self.prefix}excluded.jsonl"

    @property
    def yolo_prefix(self) -> str:
        return f"{self.prefix}yolo/"

    @property
    def yolo_classes_key(self) -> str:
        return f"{self.yolo_prefix}classes.txt"

    def yolo_key(self, label_path: str) -> str:
        return f"{self.yolo_prefix}{label_path}"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


@dataclass
class TrainingSetCounts:
    images: int = 0
    boxes: int = 0
    excluded: int = 0


class TrainingSetWriter:
    """Write each item, as it streams past, to every format at once.

    COCO goes to `coco` (its annotations wait in `coco_annotations`, a scratch file, until the
    images are all written); the manifest to `manifest`; the YOLO label files, as JSON lines of
    `{path, text}` for the caller to upload, to `yolo_labels`; exclusions to `excluded`.
    """

    def __init__(
        self,
        classes: ClassList,
        *,
        coco: TextIO,
        coco_annotations: TextIO,
        manifest: TextIO,
        yolo_labels: TextIO,
        excluded: TextIO,
        description: str,
        created_at: datetime,
    ) -> None:
        self.classes = classes
        self.counts = TrainingSetCounts()
        self._coco = CocoWriter(coco, coco_annotations, classes.labels, description, created_at)
        self._manifest = manifest
        self._yolo_labels = yolo_labels
        self._excluded = excluded

    def add(self, item: TrainingImage | Exclusion) -> None:
        if isinstance(item, Exclusion):
            self.counts.excluded += 1
            self._excluded.write(_json_line(item.to_json()))
            return
        self.counts.images += 1
        self.counts.boxes += len(item.boxes)
        self._coco.add(item)
        self._manifest.write(_json_line(manifest_line(item, self.classes.labels)))
        self._yolo_labels.write(
            _json_line({"path": yolo_label_path(item.path), "text": yolo_label_text(item)})
        )

    def close(self) -> TrainingSetCounts:
        """Finish the COCO document; the other files are complete line by line."""
        self._coco.close()
        return self.counts


def _json_line(document: Mapping[str, Any]) -> str:
    return json.dumps(document, sort_keys=True) + "\n"
