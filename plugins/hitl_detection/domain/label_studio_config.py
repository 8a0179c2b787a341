"""Read a Label Studio labeling config: which control draws the boxes, over which image, with
which labels.

A project's labeling config is shared by every task in it, so it is checked once, before a run
spends anything: a task's prediction and a reviewer's boxes name the `RectangleLabels` control
(`from_name`) and the `Image` (`to_name`); the image's URL comes from the task data field
`image`; and the labels offered must be exactly the run's, so that a reviewer can neither miss
one nor pick a class the run does not care about.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

IMAGE_DATA_FIELD = "image"  # the task data field holding the image's s3:// URI
IMAGE_TAG = "Image"
CONTROL_TAG = "RectangleLabels"
LABEL_TAG = "Label"


class LabelingConfigError(ValueError):
    """The labeling config cannot show an image with boxes to draw, as the pipeline needs."""


@dataclass(frozen=True)
class LabelingConfig:
    """What the pipeline needs of a labeling config: `control` draws boxes over `image`."""

    image: str  # the Image tag's name: `to_name` of predictions and results
    control: str  # the RectangleLabels tag's name: `from_name`
    labels: tuple[str, ...]


def parse_labeling_config(text: str) -> LabelingConfig:
    """The one RectangleLabels control over an Image showing `$image`, and its labels.

    Raises LabelingConfigError naming what is missing or ambiguous.
    """
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as error:
        raise LabelingConfigError(f"the labeling config is not XML: {error}") from error
    images = {tag.get("name"): tag for tag in root.iter(IMAGE_TAG)}
    controls = list(root.iter(CONTROL_TAG))
    if len(controls) != 1:
        raise LabelingConfigError(
            f"the labeling config has {len(controls)} {CONTROL_TAG} tags; expected exactly one, "
            "the boxes reviewers draw"
        )
    control = controls[0]
    control_name, image_name = control.get("name"), control.get("toName")
    if not control_name:
        raise LabelingConfigError(f"the {CONTROL_TAG} tag has no name")
    image = images.get(image_name)
    if image is None:
        raise LabelingConfigError(
            f"{CONTROL_TAG} {control_name!r} draws on toName={image_name!r}, which is not the name of "
            f"an {IMAGE_TAG} tag (found: {sorted(name for name in images if name)})"
        )
    if image.get("value") != f"${IMAGE_DATA_FIELD}":
        raise LabelingConfigError(
            f"{IMAGE_TAG} {image_name!r} shows value={image.get('value')!r}; expected "
            f'value="${IMAGE_DATA_FIELD}", the task data field that holds the image\'s S3 URI'
        )
    return LabelingConfig(image=image_name, control=control_name, labels=_labels(control_name, control))


def _labels(control_name: str, control: ElementTree.Element) -> tuple[str, ...]:
    labels = []
    for index, label in enumerate(control.iter(LABEL_TAG)):
        value = label.get("value")
        where = f"{CONTROL_TAG} {control_name!r} {LABEL_TAG} {index}"
        if not value:
            raise LabelingConfigError(f"{where} has no value")
        if label.get("alias") is not None:
            raise LabelingConfigError(
                f"{where} ({value!r}) has alias={label.get('alias')!r}: results would carry the alias "
                "instead of the label; remove it"
            )
        labels.append(value)
    return tuple(labels)


def label_differences(offered: Sequence[str], wanted: Sequence[str]) -> str | None:
    """How the labels a config offers differ from the run's, in words; None when they are the same."""
    missing = [label for label in wanted if label not in offered]
    extra = [label for label in offered if label not in wanted]
    duplicated = sorted({label for label in offered if list(offered).count(label) > 1})
    problems = []
    if missing:
        problems.append(f"lacks {missing}")
    if extra:
        problems.append(f"also offers {extra}, which the run does not review")
    if duplicated:
        problems.append(f"offers {duplicated} more than once")
    if not problems:
        return None
    return f"offers labels {list(offered)}, expected exactly {list(wanted)}: it " + " and ".join(problems)


def project_problems(
    project: Mapping[str, Any],
    labels: Sequence[str],
    storages: Sequence[Mapping[str, Any]] | None = None,
    image_bucket: str | None = None,
) -> list[str]:
    """Why a project (as `GET /api/projects/{id}` gives it) cannot take a run's reviews; empty when
    it can. With `storages` (its source storages) and `image_bucket`, the project must also be able
    to show the run's images: an S3 storage of that bucket resolves their s3:// URIs."""
    problems = []
    try:
        config = parse_labeling_config(project.get("label_config") or "")
    except LabelingConfigError as error:
        problems.append(f"its labeling config does not fit: {error}")
    else:
        difference = label_differences(config.labels, labels)
        if difference:
            problems.append(f"its labeling config {difference}")
    if not project.get("show_collab_predictions"):
        problems.append(
            "it does not show predictions to reviewers (show_collab_predictions is false: Settings > "
            "Annotation, use predictions to pre-label tasks)"
        )
    elif not project.get("model_version"):
        problems.append(
            "its model_version is empty, so it would show reviewers no prediction (Label Studio sets it only "
            "when the project is created or predictions of that version exist)"
        )
    if storages is not None and image_bucket is not None:
        buckets = sorted({str(storage.get("bucket")) for storage in storages if storage.get("type") == "s3"})
        if image_bucket not in buckets:
            problems.append(
                f"it has no S3 source storage of bucket {image_bucket!r}, so reviewers would not see the "
                f"images (its S3 storages: {buckets or 'none'})"
            )
    return problems
