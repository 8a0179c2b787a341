"""The classes a known detector can say, and the run's labels checked against them before deploying.

A label the model never says matches no detection: every image would be `accepted` with no box,
and no one warned. The seed's model, GluonCV SSD (ResNet-50) on COCO from the AWS Marketplace,
answers with COCO's 80 class names, lower case; its package name is the same in every region
(the ARN's account and suffix differ). The classes of other model packages are not known here.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip


@dataclass(frozen=True)
class ModelClasses:
    """What a known model package can say."""

    description: str
    classes: tuple[str, ...]

    def label_problems(self, labels: Sequence[str]) -> list[str]:
        """One problem per label the model never says, with the likely spelling when there is one."""
        problems = []
        for index, label in enumerate(labels):
            if label in self.classes:
                continue
            problem = (
                f"labels[{index}] {label!r} is not a class of {self.description}: it would never be detected"
            )
            suggestion = _closest(label, self.classes)
            problems.append(f"{problem}; did you mean {suggestion!r}?" if suggestion else problem)
        return problems


# Model package names (the part of the ARN after `model-package/`) by the start of the name.
KNOWN_MODEL_PACKAGES = {
    "gluoncv-ssd-resnet50": ModelClasses("the GluonCV SSD model (COCO, 80 classes)", COCO_CLASSES),
}


def model_classes(model_package_arn: str | None) -> ModelClasses | None:
    """The classes of the model package, or None when they are not known here."""
    if not model_package_arn or "model-package/" not in model_package_arn:
        return None
    name = model_package_arn.split("model-package/", 1)[1]
    for prefix, classes in KNOWN_MODEL_PACKAGES.items():
        if name.startswith(prefix):
            return classes
    return None


def _closest(label: str, classes: Sequence[str]) -> str | None:
    """The class spelt the same but for case or spaces, else the nearest by spelling, if any is near."""
    folded = {" ".join(name.lower().split()): name for name in classes}
    same = folded.get(" ".join(label.lower().replace("_", " ").replace("-", " ").split()))
    if same:
        return same
    near = difflib.get_close_matches(label.lower(), classes, n=1, cutoff=0.8)
    return near[0] if near else None
