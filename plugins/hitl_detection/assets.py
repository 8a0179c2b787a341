"""The Airflow Assets the project's DAGs update, so that downstream DAGs can be scheduled on them.

`detect_and_review` updates all four when it publishes a run; `export_training_set` updates the
three training sets. Each event's extra names the file (or folder) and counts, so that a
retraining DAG knows what to read without listing S3.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import Asset

from hitl_detection.domain.ground_truth_manifest import LABEL_ATTRIBUTE

RESULTS_ASSET = Asset(name="hitl_detection_results", uri="hitl-detection://detect_and_review/results")
COCO_ASSET = Asset(name="hitl_detection_coco", uri="hitl-detection://training-sets/coco")
YOLO_ASSET = Asset(name="hitl_detection_yolo", uri="hitl-detection://training-sets/yolo")
MANIFEST_ASSET = Asset(
    name="hitl_detection_ground_truth_manifest", uri="hitl-detection://training-sets/ground-truth-manifest"
)
TRAINING_SET_ASSETS = (COCO_ASSET, YOLO_ASSET, MANIFEST_ASSET)


def training_set_events(exports: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The extra of each training-set asset's event, by asset name, from an export's description."""
    counts = {name: exports[name] for name in ("images", "boxes", "excluded", "classes")}
    return {
        COCO_ASSET.name: {"coco_s3_uri": exports["coco_s3_uri"], **counts},
        YOLO_ASSET.name: {"yolo_s3_uri": exports["yolo_s3_uri"], **counts},
        MANIFEST_ASSET.name: {
            "manifest_s3_uri": exports["manifest_s3_uri"],
            "label_attribute": LABEL_ATTRIBUTE,
            **counts,
        },
    }


def set_asset_events(context: Any, outlets: Any, extras: Mapping[str, Mapping[str, Any]]) -> None:
    """Give each outlet's event its extra; an outlet with none here gets a plain event."""
    for outlet in outlets:
        if outlet.name in extras:
            context["outlet_events"][outlet].extra = dict(extras[outlet.name])
