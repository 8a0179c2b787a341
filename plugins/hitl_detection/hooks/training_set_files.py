"""An export's files in S3: written to scratch files while records stream past, then uploaded.

COCO, the manifest and the exclusions are single files, each uploaded in parts by the S3 client's
managed transfer once complete; the YOLO label files, one per image, go up several at once. Memory
holds a window of label files, never the export.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any

from hitl_detection.domain.streams import ordered_map
from hitl_detection.domain.training_sets import (
    ClassList,
    Exclusion,
    TrainingImage,
    TrainingSetLayout,
    TrainingSetWriter,
)
from hitl_detection.domain.yolo_format import yolo_classes_text

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

# PUT calls in flight for the YOLO label files.
UPLOAD_WORKERS = 16
SCRATCH_FILES = ("coco", "coco_annotations", "manifest", "yolo_labels", "excluded")


class TrainingSetFiles(contextlib.AbstractContextManager):
    """`with TrainingSetFiles(...) as files:` add every item, then `upload()`."""

    def __init__(
        self,
        s3: S3Hook,
        layout: TrainingSetLayout,
        classes: ClassList,
        *,
        description: str,
        created_at: datetime,
    ) -> None:
        self.s3 = s3
        self.layout = layout
        self.classes = classes
        self._scratch = contextlib.ExitStack()
        self._files = {
            name: self._scratch.enter_context(tempfile.TemporaryFile("w+", encoding="utf-8"))  # noqa: SIM115
            for name in SCRATCH_FILES
        }
        self.writer = TrainingSetWriter(
            classes, description=description, created_at=created_at, **self._files
        )

    def __exit__(self, *exc_info: Any) -> None:
        self._scratch.close()

    def add(self, item: TrainingImage | Exclusion) -> None:
        self.writer.add(item)

    def upload(self) -> dict[str, Any]:
        """Finish and upload every file; returns where each format is and the counts."""
        counts = self.writer.close()
        layout = self.layout
        for name, key in (
            ("coco", layout.coco_key),
            ("manifest", layout.manifest_key),
            ("excluded", layout.excluded_key),
        ):
            self._upload_file(self._files[name], key)
        self._put(layout.yolo_classes_key, yolo_classes_text(self.classes.labels))
        for _ in ordered_map(self._put_label, self._labels(), workers=UPLOAD_WORKERS):
            pass
        return {
            "coco_s3_uri": layout.uri(layout.coco_key),
            "yolo_s3_uri": layout.uri(layout.yolo_prefix),
            "manifest_s3_uri": layout.uri(layout.manifest_key),
            "excluded_s3_uri": layout.uri(layout.excluded_key),
            "classes": list(self.classes.labels),
            "images": counts.images,
            "boxes": counts.boxes,
            "excluded": counts.excluded,
        }

    def _labels(self) -> Iterator[dict[str, str]]:
        spill = self._files["yolo_labels"]
        spill.seek(0)
        for line in spill:
            yield json.loads(line)

    def _put_label(self, label: dict[str, str]) -> None:
        self._put(self.layout.yolo_key(label["path"]), label["text"])

    def _put(self, key: str, text: str) -> None:
        self.s3.conn.put_object(
            Bucket=self.layout.bucket, Key=key, Body=text.encode(), ContentType="text/plain; charset=utf-8"
        )

    def _upload_file(self, text_file: IO[str], key: str) -> None:
        """Upload a complete scratch file (in parts, when it is large)."""
        text_file.flush()
        binary = text_file.buffer  # type: ignore[attr-defined]
        binary.seek(0)
        self.s3.load_file_obj(binary, key=key, bucket_name=self.layout.bucket, replace=True)
