"""Split a model's detections into accepted, uncertain (for review) and dropped ones.

The gate is the money decision of a run: every uncertain box sends its image to paid human
review, so the rules live in one pure function and state each reason in words.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.labels import label_problems

DEFAULT_THRESHOLD = 0.9
DEFAULT_MIN_SCORE = 0.2


def fraction_problem(name: str, value: Any) -> str | None:
    """Why `value` is not a number from 0 to 1, starting with `name`; None when it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name} {value!r} is not a number; expected a number from 0 to 1"
    if math.isnan(value):
        return f"{name} is NaN; expected a number from 0 to 1"
    if value < 0:
        return f"{name} {value} is below 0"
    if value > 1:
        return f"{name} {value} is above 1"
    return None


def policy_problems(threshold: Any, min_score: Any, class_thresholds: Any, labels: Any) -> list[str]:
    """Every problem with a gate policy's settings, each starting with the param's name.

    Shared by GatePolicy and the run's params check, which must list all problems at once.
    """
    threshold_problem = fraction_problem("threshold", threshold)
    min_score_problem = fraction_problem("min_score", min_score)
    problems = [problem for problem in (threshold_problem, min_score_problem) if problem]
    if not problems and min_score > threshold:
        problems.append(f"min_score {min_score} is above threshold {threshold}; expected at most threshold")
    labels_ok = labels is not None and not label_problems(labels)
    if labels is not None:
        problems.extend(label_problems(labels))
    if not isinstance(class_thresholds, Mapping):
        problems.append(
            f"class_thresholds {class_thresholds!r} is a {type(class_thresholds).__name__}, "
            "expected an object mapping a label to its threshold"
        )
        return problems
    for label, value in class_thresholds.items():
        name = f"class_thresholds[{label!r}]"
        if not isinstance(label, str) or not label.strip():
            problems.append(f"{name}: the key is not a label name; expected a non-empty string")
        elif labels_ok and label not in labels:
            problems.append(f"{name}: {label!r} is not among labels {list(labels)}")
        problem = fraction_problem(name, value)
        if problem:
            problems.append(problem)
        elif min_score_problem is None and value < min_score:
            problems.append(f"{name} {value} is below min_score {min_score}; expected at least min_score")
    return problems


@dataclass(frozen=True)
class GatePolicy:
    """When a detection is accepted, sent to review, or dropped.

    `labels` None means every label counts (no detection is dropped for its class).
    """

    threshold: float = DEFAULT_THRESHOLD
    min_score: float = DEFAULT_MIN_SCORE
    class_thresholds: Mapping[str, float] = field(default_factory=dict)
    labels: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        problems = policy_problems(self.threshold, self.min_score, self.class_thresholds, self.labels)
        if problems:
            raise ValueError("; ".join(problems))
        # Copies, so that the caller's dict or list cannot change a policy after it was checked.
        object.__setattr__(self, "class_thresholds", dict(self.class_thresholds))
        if self.labels is not None:
            object.__setattr__(self, "labels", tuple(self.labels))

    def __hash__(self) -> int:
        return hash((self.threshold, self.min_score, frozenset(self.class_thresholds.items()), self.labels))

    def threshold_for(self, label: str) -> float:
        return self.class_thresholds.get(label, self.threshold)


@dataclass(frozen=True)
class GateDecision:
    """What the gate made of one image's detections.

    `kept`: every box at or above min_score, any label (what the model said, as recorded).
    `accepted` and `uncertain` partition the kept boxes whose label is among the policy's labels.
    """

    kept: tuple[Box, ...] = ()
    accepted: tuple[Box, ...] = ()
    uncertain: tuple[Box, ...] = ()
    dropped_low_score: int = 0
    dropped_other_label: int = 0
    needs_review: bool = False
    reasons: tuple[str, ...] = ()


def gate_detections(boxes: Iterable[Box], policy: GatePolicy) -> GateDecision:
    """Accept boxes at or above their label's threshold; an image with any box between min_score
    and that threshold needs review. Boxes keep their input order in every group."""
    kept: list[Box] = []
    accepted: list[Box] = []
    uncertain: list[Box] = []
    reasons: list[str] = []
    dropped_low_score = dropped_other_label = 0
    for box in boxes:
        score = box.score
        if score is None or not math.isfinite(score):
            raise ValueError(f"box {box.label!r} has score {score!r}; gating needs the model's finite score")
        if score < policy.min_score:
            dropped_low_score += 1
            continue
        kept.append(box)
        if policy.labels is not None and box.label not in policy.labels:
            dropped_other_label += 1
            continue
        threshold = policy.threshold_for(box.label)
        if score >= threshold:
            accepted.append(box)
        else:
            uncertain.append(box)
            shown = _shown_score(score, threshold)
            reasons.append(f"{box.label} scored {shown}, under its threshold {threshold}")
    return GateDecision(
        kept=tuple(kept),
        accepted=tuple(accepted),
        uncertain=tuple(uncertain),
        dropped_low_score=dropped_low_score,
        dropped_other_label=dropped_other_label,
        needs_review=bool(uncertain),
        reasons=tuple(reasons),
    )


def _shown_score(score: float, threshold: float) -> float:
    """The score rounded for reading, unless rounding would make it look like the threshold."""
    rounded = round(score, 4)
    return rounded if rounded < threshold else score
