"""The run's label vocabulary: the classes it cares about and the choices a reviewer gets.

crowd-bounding-box offers at most 10 labels, and a label the detector never says can never be
matched, so every place that takes labels checks them the same way, here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MAX_LABELS = 10


def label_problems(labels: Any, field: str = "labels") -> list[str]:
    """Every problem with a list of labels, each starting with `field`; empty when it is valid."""
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        kind = type(labels).__name__
        return [f"{field} {labels!r} is a {kind}, expected a list of 1-{MAX_LABELS} class names"]
    problems = []
    if not labels:
        problems.append(f"{field} is empty; expected 1-{MAX_LABELS} class names")
    elif len(labels) > MAX_LABELS:
        problems.append(f"{field} has {len(labels)} labels, above the limit of {MAX_LABELS}")
    seen: set[str] = set()
    for index, label in enumerate(labels):
        name = f"{field}[{index}]"
        if not isinstance(label, str):
            problems.append(f"{name} {label!r} is a {type(label).__name__}, expected a string")
        elif not label.strip():
            problems.append(f"{name} {label!r} is empty; expected a class name")
        elif label != label.strip():
            problems.append(f"{name} {label!r} has leading or trailing whitespace")
        elif label in seen:
            problems.append(f"{name} {label!r} is a duplicate")
        else:
            seen.add(label)
    return problems
