"""Merge several reviewers' boxes for one image into one set, as Ground Truth does.

A2I hands back one answer per reviewer and never merges them. The rule, after SageMaker Ground
Truth's bounding-box consolidation:

- Per label, boxes are matched across reviewers by IoU (at least `iou_threshold`, 0.5 by
  default): reviewers are taken one at a time, and each reviewer's boxes are paired one-to-one
  with the clusters built so far, greedily by highest IoU against each cluster's mean box; a box
  left unpaired starts a new cluster. A cluster holds at most one box per reviewer.
- A cluster is kept when at least half of the reviewers drew it: ceil(n / 2) of n. With two
  reviewers a box only one of them drew is kept; with three it needs two; with four, two.
- A kept cluster becomes its members' mean box with edges rounded to whole pixels (a cluster of
  one box keeps that box as drawn). Every result has source "human" and no score.
- Reviewers and their boxes are put in a canonical order first, so the result does not depend on
  the order A2I listed the answers in. With one reviewer, that reviewer's boxes come back as drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from hitl_detection.domain.boxes import Box, check_iou_threshold, match_boxes

DEFAULT_IOU_THRESHOLD = 0.5


def consolidate_answers(
    answers: Sequence[Sequence[Box]], iou_threshold: float = DEFAULT_IOU_THRESHOLD
) -> list[Box]:
    """One box set from each reviewer's boxes; sorted by label, then top, left, width, height."""
    check_iou_threshold(iou_threshold)
    if len(answers) == 1:
        return [_as_human(box) for box in answers[0]]
    quorum = math.ceil(len(answers) / 2)
    by_label: dict[str, list[list[Box]]] = {}
    for reviewer, boxes in enumerate(answers):
        for box in boxes:
            by_label.setdefault(box.label, [[] for _ in answers])[reviewer].append(box)
    merged = []
    for label in sorted(by_label):
        clusters = _clusters(by_label[label], iou_threshold)
        merged.extend(_merge(cluster) for cluster in clusters if len(cluster) >= quorum)
    return sorted(merged, key=_order)


def _clusters(per_reviewer: list[list[Box]], iou_threshold: float) -> list[list[Box]]:
    # A canonical order of reviewers and boxes makes the clusters independent of A2I's order.
    each_sorted = [sorted(boxes, key=_order) for boxes in per_reviewer]
    canonical = sorted(each_sorted, key=lambda boxes: [_order(box) for box in boxes])
    clusters: list[list[Box]] = []
    for boxes in canonical:
        centres = [_mean_box(cluster) for cluster in clusters]
        paired = set()
        for cluster_index, box_index in match_boxes(centres, boxes, iou_threshold):
            clusters[cluster_index].append(boxes[box_index])
            paired.add(box_index)
        clusters.extend([box] for index, box in enumerate(boxes) if index not in paired)
    return clusters


def _mean_box(cluster: list[Box]) -> Box:
    count = len(cluster)
    return Box(
        label=cluster[0].label,
        left=sum(box.left for box in cluster) / count,
        top=sum(box.top for box in cluster) / count,
        width=sum(box.width for box in cluster) / count,
        height=sum(box.height for box in cluster) / count,
        source="human",
    )


def _merge(cluster: list[Box]) -> Box:
    if len(cluster) == 1:
        return _as_human(cluster[0])
    mean = _mean_box(cluster)
    left, top = _round_half_up(mean.left), _round_half_up(mean.top)
    right, bottom = _round_half_up(mean.right), _round_half_up(mean.bottom)
    return Box(label=mean.label, left=left, top=top, width=right - left, height=bottom - top, source="human")


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _as_human(box: Box) -> Box:
    return replace(box, score=None, source="human")


def _order(box: Box) -> tuple:
    return (box.label, box.top, box.left, box.width, box.height)
