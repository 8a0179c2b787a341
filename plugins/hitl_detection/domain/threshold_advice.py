"""Advise per-label thresholds from what reviewers did with the model's boxes.

Each reviewed image tells, for every model box of the run's labels in it, whether the reviewers
kept it: a final box of its label overlaps it at IoU >= `match_iou`, paired one to one as
`records.diff_boxes` pairs boxes (0.5 by default, the line between a moved box and a removed one:
kept as it was or nudged, not deleted, relabelled or replaced). From those outcomes a kept rate by
score is estimated per label, non-decreasing in the score (isotonic regression). The advised
threshold of a label is the lowest score at which the boxes it would accept - all the runs' boxes
of that label at or above it, each weighted by the kept rate at its score - are kept at least
`target_precision` of the time. An image goes to review when any of its boxes is under its
label's threshold, so the lowest such threshold per label sends the fewest images to review.

Only reviewed images show a box's fate; what that leaves out is said in `Advice.notes`.
Scores are counted by thousandths, so memory stays flat however many runs are read, and an
advised threshold is a thousandth (a box in it is accepted).
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from hitl_detection.domain.boxes import Box, check_iou_threshold, match_boxes
from hitl_detection.domain.gating import DEFAULT_THRESHOLD, fraction_problem
from hitl_detection.domain.labels import label_problems
from hitl_detection.domain.records import STATUSES

DEFAULT_TARGET_PRECISION = 0.95
DEFAULT_MATCH_IOU = 0.5
DEFAULT_MIN_REVIEWED_BOXES = 30
BASES = ("estimated", "too little data", "unreachable")
SCORE_BINS = 1000
# The lowest score of each thousandth: bin b holds the scores from _BIN_FLOORS[b] up to the next.
_BIN_FLOORS = tuple(index / SCORE_BINS for index in range(SCORE_BINS + 1))


def score_bin(score: float) -> int:
    """The thousandth a score from 0 to 1 falls in (1.0 has its own, the last)."""
    return bisect_right(_BIN_FLOORS, score) - 1


def bin_floor(index: int) -> float:
    """The lowest score of a thousandth: as a threshold, it accepts every box of that thousandth."""
    return _BIN_FLOORS[index]


def first_accepted_bin(threshold: float) -> int:
    """The lowest thousandth a threshold accepts whole; one between thousandths counts from the next."""
    return bisect_left(_BIN_FLOORS, threshold)


def run_labels(summary: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """The labels a run reviewed, from its summary.json (`config.labels`); `where` names the file."""
    config = summary.get("config")
    labels = config.get("labels") if isinstance(config, Mapping) else None
    if labels is None:
        raise ValueError(
            f"{where} has no config.labels; expected the summary.json detect_and_review writes beside "
            "results.jsonl, which names the labels reviewers could pick"
        )
    problems = label_problems(labels, "config.labels")
    if problems:
        raise ValueError(f"{where}: {'; '.join(problems)}")
    return tuple(labels)


class ReviewEvidence:
    """What one or more runs' records say about the model's boxes, fed one record at a time.

    Holds counts by label and thousandth of score, never the records. A box's fate counts only in
    a `reviewed` record; every record with model boxes adds to the scores the advice weighs.
    """

    def __init__(self, match_iou: float = DEFAULT_MATCH_IOU) -> None:
        check_iou_threshold(match_iou)
        self.match_iou = match_iou
        self.images = 0
        self.sent_to_review = 0  # images a run sent to review (reviewed or review_failed)
        self.reviewed_images = 0
        self._labels: set[str] = set()
        self._boxes: dict[str, Counter[int]] = {}
        self._reviewed: dict[str, Counter[int]] = {}
        self._kept: dict[str, Counter[int]] = {}
        # Per image, the lowest thousandth of each label: what decides whether a policy reviews it.
        self._image_lows: Counter[tuple[tuple[str, int], ...]] = Counter()

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(sorted(self._labels))

    def add(self, record: Mapping[str, Any], labels: Collection[str]) -> None:
        """One result record of a run whose reviewers picked from `labels`.

        Model boxes of other labels were dropped by the run and never shown, so they do not count.
        """
        where = f"record for {record.get('image_s3_uri')}"
        status = record.get("status")
        if status not in STATUSES:
            raise ValueError(f"{where} has status {status!r}, not one of {STATUSES}")
        self._labels.update(labels)
        for field in ("model_boxes", "boxes"):
            if not isinstance(record.get(field), list):
                raise ValueError(f"{where} has {field} {record.get(field)!r}, expected a list of box records")
        model_boxes = [_scored_box(where, index, raw) for index, raw in enumerate(record["model_boxes"])]
        model_boxes = [box for box in model_boxes if box.label in labels]
        self.images += 1
        self.sent_to_review += bool(record.get("needs_review"))
        lows: dict[str, int] = {}
        for box in model_boxes:
            index = score_bin(box.score)
            self._counter(self._boxes, box.label)[index] += 1
            lows[box.label] = min(lows.get(box.label, index), index)
        self._image_lows[tuple(sorted(lows.items()))] += 1
        if status != "reviewed":
            return
        self.reviewed_images += 1
        final = [Box.from_record(raw) for raw in record["boxes"]]
        kept = {i for i, _ in match_boxes(model_boxes, final, self.match_iou)}
        for i, box in enumerate(model_boxes):
            index = score_bin(box.score)
            self._counter(self._reviewed, box.label)[index] += 1
            self._counter(self._kept, box.label)[index] += i in kept

    def images_to_review(self, thresholds: Mapping[str, float], default: float) -> int:
        """How many of the images read a policy would send to review: any box under its label's
        threshold (`default` for a label not in `thresholds`)."""
        firsts = {label: first_accepted_bin(value) for label, value in thresholds.items()}
        first_default = first_accepted_bin(default)
        return sum(
            count
            for lows, count in self._image_lows.items()
            if any(low < firsts.get(label, first_default) for label, low in lows)
        )

    def label_counts(self, label: str) -> tuple[Counter[int], Counter[int], Counter[int]]:
        """(every box, reviewed boxes, kept boxes) of a label, by thousandth of score."""
        return (
            Counter(self._boxes.get(label, {})),
            Counter(self._reviewed.get(label, {})),
            Counter(self._kept.get(label, {})),
        )

    @staticmethod
    def _counter(counters: dict[str, Counter[int]], label: str) -> Counter[int]:
        return counters.setdefault(label, Counter())


def _scored_box(where: str, index: int, raw: Any) -> Box:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: model box {index} is {raw!r}, expected a box record")
    box = Box.from_record(raw)
    problem = fraction_problem(f"{where}: model box {index} score", box.score)
    if problem:
        raise ValueError(problem)
    return box


@dataclass(frozen=True)
class SurvivalStep:
    """A run of scores sharing one estimated kept rate: from `low` up to the next step's `low`."""

    low: float
    high: float  # the lowest score of the last thousandth observed in the step
    kept: int
    reviewed: int

    @property
    def rate(self) -> float:
        return self.kept / self.reviewed


@dataclass(frozen=True)
class LabelAdvice:
    """The advice for one label and what it rests on, for the table and the plot."""

    label: str
    threshold: float
    basis: str  # one of BASES
    boxes: int  # every box of the label the runs' records hold
    reviewed: int  # boxes in reviewed images: the ones whose fate is known
    kept: int
    precision: float | None  # estimated, of the boxes the advised threshold accepts (None: none)
    precision_at_global: float | None
    steps: tuple[SurvivalStep, ...]  # the isotonic estimate, by score
    observed: tuple[tuple[float, int, int], ...]  # (thousandth, reviewed, kept) where reviewed > 0
    scores: tuple[tuple[float, int], ...]  # (thousandth, boxes) of every box
    curve: tuple[tuple[float, float, int], ...]  # (threshold, estimated precision, boxes accepted)

    def survival_by_range(self, thousandths: int = 50) -> list[tuple[float, float, int, int]]:
        """(low, high, reviewed, kept) of the observed boxes in score ranges `thousandths` wide."""
        return [
            (low, high, reviewed, kept)
            for low, high, (reviewed, kept) in _by_range(
                ((score, (reviewed, kept)) for score, reviewed, kept in self.observed), thousandths
            )
        ]

    def boxes_by_range(self, thousandths: int = 10) -> list[tuple[float, float, int]]:
        """(low, high, boxes) of every box of the label in score ranges `thousandths` wide."""
        return [
            (low, high, boxes)
            for low, high, (boxes,) in _by_range(
                ((score, (count,)) for score, count in self.scores), thousandths
            )
        ]


def _by_range(
    items: Iterable[tuple[float, tuple[int, ...]]], thousandths: int
) -> list[tuple[float, float, tuple[int, ...]]]:
    """Counts at thousandths summed over ranges `thousandths` wide (a score of 1.0 joins the last
    range): (low, high, sums) of each range holding any."""
    if not _whole_number_from(thousandths, 1, SCORE_BINS):
        raise ValueError(f"range width {thousandths!r} is not a whole number of thousandths, 1 to 1000")
    ranges: dict[int, list[int]] = {}
    for score, counts in items:
        sums = ranges.setdefault(min(score_bin(score), SCORE_BINS - 1) // thousandths, [0] * len(counts))
        for position, count in enumerate(counts):
            sums[position] += count
    return [
        (bin_floor(index * thousandths), bin_floor(min((index + 1) * thousandths, SCORE_BINS)), tuple(sums))
        for index, sums in sorted(ranges.items())
    ]


@dataclass(frozen=True)
class Advice:
    """Thresholds for the trigger form, per label and for the rest, with what they rest on."""

    target_precision: float
    match_iou: float
    min_reviewed_boxes: int
    global_threshold: float
    labels: tuple[LabelAdvice, ...]
    images: int
    sent_to_review: int  # by the runs themselves
    reviewed_images: int
    to_review_at_global: int  # estimated: every label at the global threshold
    to_review_advised: int  # estimated: the advised thresholds

    @property
    def class_thresholds(self) -> dict[str, float]:
        """The labels with an advice of their own; the others keep the global threshold."""
        return {item.label: item.threshold for item in self.labels if item.basis != "too little data"}

    def form(self) -> dict[str, Any]:
        """What to paste into detect_and_review's trigger form."""
        return {"threshold": self.global_threshold, "class_thresholds": self.class_thresholds}

    @property
    def notes(self) -> list[str]:
        """What the estimate cannot see, and why a label kept the global threshold."""
        notes = [
            f"A box's fate is seen only in reviewed images ({self.reviewed_images} of {self.images}): "
            "a box counts as kept when a reviewer's box of its label overlaps it at IoU >= "
            f"{self.match_iou}. Boxes of images accepted without review were never checked; they are "
            "assumed to be kept as often as reviewed boxes of the same label and score.",
            "Confident boxes are seen only beside uncertain ones (an image went to review because of "
            "those), and reviewers start from them and may leave a poor one alone: their kept rate "
            "may be off in either direction.",
            "The precision is of the boxes accepted. A lower threshold also sends fewer images to "
            "reviewers, who add the objects the model missed there: recall is not weighed here.",
        ]
        for item in self.labels:
            if item.basis == "too little data":
                notes.append(
                    f"{item.label}: {item.reviewed} reviewed boxes, fewer than {self.min_reviewed_boxes}: "
                    f"keeps the global threshold {self.global_threshold}."
                )
            elif item.basis == "unreachable":
                notes.append(
                    f"{item.label}: no threshold reaches precision {self.target_precision}; "
                    "1.0 sends every box of it to review."
                )
        return notes


def advise_thresholds(
    evidence: ReviewEvidence,
    *,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    global_threshold: float = DEFAULT_THRESHOLD,
    min_reviewed_boxes: int = DEFAULT_MIN_REVIEWED_BOXES,
) -> Advice:
    """Per label, the lowest threshold whose accepted boxes reach `target_precision` (estimated);
    labels with fewer than `min_reviewed_boxes` reviewed boxes keep `global_threshold`."""
    problems = [
        problem
        for problem in (
            fraction_problem("target_precision", target_precision),
            fraction_problem("threshold", global_threshold),
        )
        if problem
    ]
    if not problems and target_precision <= 0:
        problems.append("target_precision 0 accepts anything; expected above 0")
    if not _whole_number_from(min_reviewed_boxes, 1):
        problems.append(f"min_reviewed_boxes {min_reviewed_boxes!r} is not a whole number of at least 1")
    if problems:
        raise ValueError("; ".join(problems))
    labels = tuple(
        _label_advice(label, evidence, Fraction(str(target_precision)), global_threshold, min_reviewed_boxes)
        for label in evidence.labels
    )
    advice = Advice(
        target_precision=target_precision,
        match_iou=evidence.match_iou,
        min_reviewed_boxes=min_reviewed_boxes,
        global_threshold=global_threshold,
        labels=labels,
        images=evidence.images,
        sent_to_review=evidence.sent_to_review,
        reviewed_images=evidence.reviewed_images,
        to_review_at_global=evidence.images_to_review({}, global_threshold),
        to_review_advised=0,
    )
    load = evidence.images_to_review(advice.class_thresholds, global_threshold)
    return replace(advice, to_review_advised=load)


def _label_advice(
    label: str, evidence: ReviewEvidence, target: Fraction, global_threshold: float, min_reviewed_boxes: int
) -> LabelAdvice:
    boxes, reviewed, kept = evidence.label_counts(label)
    observed = sorted((index, reviewed[index], kept[index]) for index in reviewed)
    steps = isotonic_steps(observed)
    curve = _precision_curve(boxes, steps)
    feasible = [threshold for threshold, precision, _ in curve if precision >= target]
    reviewed_count = sum(reviewed.values())
    if reviewed_count < min_reviewed_boxes:
        basis, threshold = "too little data", global_threshold
    elif feasible:
        basis, threshold = "estimated", min(feasible)
    else:
        basis, threshold = "unreachable", 1.0
    return LabelAdvice(
        label=label,
        threshold=threshold,
        basis=basis,
        boxes=sum(boxes.values()),
        reviewed=reviewed_count,
        kept=sum(kept.values()),
        precision=_precision_at(curve, threshold),
        precision_at_global=_precision_at(curve, global_threshold),
        steps=tuple(
            SurvivalStep(bin_floor(first), bin_floor(last), step_kept, step_reviewed)
            for first, last, step_reviewed, step_kept in steps
        ),
        observed=tuple((bin_floor(index), n, k) for index, n, k in observed),
        scores=tuple((bin_floor(index), boxes[index]) for index in sorted(boxes)),
        curve=tuple((threshold, float(precision), accepted) for threshold, precision, accepted in curve),
    )


def isotonic_steps(observed: Iterable[tuple[int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Pool adjacent violators: (first, last, reviewed, kept) steps of a rising kept rate.

    `observed` holds (thousandth, reviewed, kept) in increasing thousandths, reviewed > 0. Each
    step's rate is its boxes' kept fraction, the closest non-decreasing fit in least squares.
    """
    steps: list[list[int]] = []
    for index, reviewed, kept in observed:
        steps.append([index, index, reviewed, kept])
        # Merge while the step before keeps as large a fraction or larger: kept_a / n_a >= kept_b / n_b.
        while len(steps) > 1 and steps[-2][3] * steps[-1][2] >= steps[-1][3] * steps[-2][2]:
            last = steps.pop()
            steps[-1][1] = last[1]
            steps[-1][2] += last[2]
            steps[-1][3] += last[3]
    return [(first, last, reviewed, kept) for first, last, reviewed, kept in steps]


def _rate_at(steps: Sequence[tuple[int, int, int, int]], index: int) -> Fraction:
    """The step a thousandth falls in, or the one below it; below the first step, the first."""
    position = max(bisect_right([step[0] for step in steps], index) - 1, 0)
    _, _, reviewed, kept = steps[position]
    return Fraction(kept, reviewed)


def _precision_curve(
    boxes: Mapping[int, int], steps: Sequence[tuple[int, int, int, int]]
) -> list[tuple[float, Fraction, int]]:
    """(threshold, estimated precision, boxes accepted) at each thousandth holding a box, ascending."""
    if not steps:
        return []
    curve = []
    accepted, expected_kept = 0, Fraction(0)
    for index in sorted(boxes, reverse=True):
        accepted += boxes[index]
        expected_kept += boxes[index] * _rate_at(steps, index)
        curve.append((bin_floor(index), expected_kept / accepted, accepted))
    return curve[::-1]


def _precision_at(curve: Sequence[tuple[float, Fraction, int]], threshold: float) -> float | None:
    """The estimated precision of what `threshold` accepts; None when it accepts no box."""
    first = first_accepted_bin(threshold)
    for candidate, precision, _ in curve:
        if first_accepted_bin(candidate) >= first:
            return float(precision)
    return None


def format_advice(advice: Advice) -> str:
    """The advice as a Markdown table with the paste-ready form and the notes, for a log or a file."""
    lines = [
        f"Threshold advice: precision {advice.target_precision} of the boxes accepted without review "
        f"(kept: a reviewer's box of the label at IoU >= {advice.match_iou}).",
        "",
        "| label | boxes | reviewed | kept | threshold | basis | est. precision "
        f"| at {advice.global_threshold} |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    lines.extend(
        f"| {item.label} | {item.boxes} | {item.reviewed} | {item.kept} | {item.threshold} | {item.basis} "
        f"| {_shown(item.precision)} | {_shown(item.precision_at_global)} |"
        for item in advice.labels
    )
    lines += [
        "",
        f"Images: {advice.images}; sent to review by the runs: "
        f"{_share(advice.sent_to_review, advice.images)}; "
        f"estimated with {advice.global_threshold} for every label: "
        f"{_share(advice.to_review_at_global, advice.images)}; with the advice: "
        f"{_share(advice.to_review_advised, advice.images)}.",
        "",
        f"Trigger form: {json.dumps(advice.form(), sort_keys=True)}",
        "",
        "Notes:",
    ]
    lines.extend(f"- {note}" for note in advice.notes)
    return "\n".join(lines)


def _whole_number_from(value: Any, low: int, high: float = math.inf) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _shown(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _share(count: int, total: int) -> str:
    return f"{count} ({count / total:.1%})" if total else str(count)
