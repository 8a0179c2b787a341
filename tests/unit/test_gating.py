import copy
import pickle

import pytest
from box_strategies import LABELS, model_boxes, scores
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.gating import (
    GateDecision,
    GatePolicy,
    fraction_problem,
    gate_detections,
    policy_problems,
)


def model(label: str, score: float) -> Box:
    return Box(label, 0, 0, 10, 10, score=score, source="model")


def test_defaults_follow_the_design():
    policy = GatePolicy()
    assert (policy.threshold, policy.min_score, policy.class_thresholds, policy.labels) == (
        0.9,
        0.2,
        {},
        None,
    )


def test_threshold_for_uses_class_overrides():
    policy = GatePolicy(threshold=0.8, class_thresholds={"person": 0.95}, labels=("person", "dog"))
    assert policy.threshold_for("person") == 0.95
    assert policy.threshold_for("dog") == 0.8


def test_policy_copies_its_inputs():
    thresholds, labels = {"dog": 0.5}, ["dog"]
    policy = GatePolicy(class_thresholds=thresholds, labels=labels)
    thresholds["dog"] = 0.99
    labels.append("cat")
    assert policy.class_thresholds == {"dog": 0.5}
    assert policy.labels == ("dog",)


def test_policy_is_hashable_comparable_and_portable():
    policy = GatePolicy(threshold=0.7, class_thresholds={"dog": 0.5}, labels=("dog",))
    same = GatePolicy(threshold=0.7, class_thresholds={"dog": 0.5}, labels=["dog"])
    assert policy == same
    assert hash(policy) == hash(same)
    assert pickle.loads(pickle.dumps(policy)) == policy
    assert copy.deepcopy(policy) == policy


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (0.5, None),
        (0, None),
        (1, None),
        (1.5, "threshold 1.5 is above 1"),
        (-0.1, "threshold -0.1 is below 0"),
        (float("nan"), "threshold is NaN; expected a number from 0 to 1"),
        (True, "threshold True is not a number; expected a number from 0 to 1"),
        ("0.9", "threshold '0.9' is not a number; expected a number from 0 to 1"),
        (None, "threshold None is not a number; expected a number from 0 to 1"),
    ],
)
def test_fraction_problem(value, problem):
    assert fraction_problem("threshold", value) == problem


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 1.5}, "threshold 1.5 is above 1"),
        ({"min_score": -1}, "min_score -1 is below 0"),
        (
            {"threshold": 0.5, "min_score": 0.6},
            "min_score 0.6 is above threshold 0.5; expected at most threshold",
        ),
        (
            {"class_thresholds": [("dog", 0.5)]},
            "class_thresholds .* is a list, expected an object mapping a label",
        ),
        ({"class_thresholds": {"dog": 0.1}}, r"class_thresholds\['dog'\] 0.1 is below min_score 0.2"),
        ({"class_thresholds": {"dog": 2}}, r"class_thresholds\['dog'\] 2 is above 1"),
        ({"class_thresholds": {"": 0.5}}, r"class_thresholds\[''\]: the key is not a label name"),
        ({"class_thresholds": {1: 0.5}}, r"class_thresholds\[1\]: the key is not a label name"),
        (
            {"class_thresholds": {"cat": 0.5}, "labels": ("dog",)},
            r"class_thresholds\['cat'\]: 'cat' is not among labels \['dog'\]",
        ),
        ({"labels": ()}, "labels is empty"),
        ({"labels": tuple("abcdefghijk")}, "labels has 11 labels, above the limit of 10"),
        ({"labels": ("dog", "dog")}, r"labels\[1\] 'dog' is a duplicate"),
        ({"labels": "dog"}, "labels 'dog' is a str, expected a list"),
    ],
)
def test_policy_rejects(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GatePolicy(**kwargs)


def test_policy_problems_lists_every_problem():
    problems = policy_problems(1.5, "x", {"cat": 7, "": 0.5}, ["dog", "dog"])
    assert problems == [
        "threshold 1.5 is above 1",
        "min_score 'x' is not a number; expected a number from 0 to 1",
        "labels[1] 'dog' is a duplicate",
        "class_thresholds['cat'] 7 is above 1",
        "class_thresholds['']: the key is not a label name; expected a non-empty string",
    ]


def test_gate_example():
    boxes = [
        model("dog", 0.95),
        model("bicycle", 0.62),
        model("dog", 0.1),
        model("cat", 0.99),
        model("person", 0.85),
    ]
    policy = GatePolicy(threshold=0.9, class_thresholds={"person": 0.8}, labels=("dog", "bicycle", "person"))
    decision = gate_detections(boxes, policy)
    assert decision == GateDecision(
        kept=(boxes[0], boxes[1], boxes[3], boxes[4]),
        accepted=(boxes[0], boxes[4]),
        uncertain=(boxes[1],),
        dropped_low_score=1,
        dropped_other_label=1,
        needs_review=True,
        reasons=("bicycle scored 0.62, under its threshold 0.9",),
    )


def test_confident_image_needs_no_review():
    decision = gate_detections([model("dog", 0.9), model("cat", 0.3)], GatePolicy())
    assert decision.accepted == (model("dog", 0.9),)  # at the threshold is accepted
    assert decision.uncertain == (model("cat", 0.3),)  # no labels: every class counts
    assert gate_detections([model("dog", 0.9)], GatePolicy()).needs_review is False


def test_no_detection_is_no_review():
    assert gate_detections([], GatePolicy()) == GateDecision()


def test_reason_never_shows_a_score_rounded_up_to_its_threshold():
    decision = gate_detections([model("dog", 0.899999)], GatePolicy())
    assert decision.reasons == ("dog scored 0.899999, under its threshold 0.9",)


@pytest.mark.parametrize("score", [None, float("nan")])
def test_gate_needs_model_scores(score):
    with pytest.raises(
        ValueError, match=f"box 'dog' has score {score}; gating needs the model's finite score"
    ):
        gate_detections([Box("dog", 0, 0, 1, 1, score=score)], GatePolicy())


@st.composite
def policies(draw):
    threshold = draw(scores)
    min_score = draw(st.floats(0, threshold))
    labels = draw(st.none() | st.lists(st.sampled_from(LABELS), min_size=1, unique=True).map(tuple))
    overrides = draw(st.dictionaries(st.sampled_from(labels or LABELS), st.floats(min_score, 1)))
    return GatePolicy(threshold=threshold, min_score=min_score, class_thresholds=overrides, labels=labels)


def is_subsequence(part, whole):
    remaining = iter(whole)
    return all(any(item is candidate for candidate in remaining) for item in part)


@given(st.lists(model_boxes, max_size=15), policies())
def test_partition_invariants(boxes, policy):
    decision = gate_detections(boxes, policy)
    assert len(decision.kept) + decision.dropped_low_score == len(boxes)
    assert len(decision.accepted) + len(decision.uncertain) + decision.dropped_other_label == len(
        decision.kept
    )
    assert all(box.score >= policy.min_score for box in decision.kept)
    for group in (decision.kept, decision.accepted, decision.uncertain):
        assert is_subsequence(group, boxes)
    for box in decision.accepted:
        assert box.score >= policy.threshold_for(box.label)
    for box in decision.uncertain:
        assert policy.min_score <= box.score < policy.threshold_for(box.label)
    for box in decision.accepted + decision.uncertain:
        assert policy.labels is None or box.label in policy.labels
    assert decision.needs_review == bool(decision.uncertain)
    assert len(decision.reasons) == len(decision.uncertain)
    if policy.labels is None:
        assert decision.dropped_other_label == 0


@given(st.lists(model_boxes, max_size=15), policies(), st.data())
def test_raising_the_threshold_only_moves_boxes_to_review(boxes, policy, data):
    higher = data.draw(st.floats(policy.threshold, 1))
    stricter = GatePolicy(
        threshold=higher,
        min_score=policy.min_score,
        class_thresholds={label: max(value, higher) for label, value in policy.class_thresholds.items()},
        labels=policy.labels,
    )
    loose, strict = gate_detections(boxes, policy), gate_detections(boxes, stricter)
    assert strict.kept == loose.kept
    assert is_subsequence(strict.accepted, loose.accepted)
    assert is_subsequence(loose.uncertain, strict.uncertain)
    assert loose.needs_review <= strict.needs_review


@given(st.lists(model_boxes, max_size=15), policies(), st.data())
def test_raising_min_score_only_drops_boxes(boxes, policy, data):
    ceiling = min([policy.threshold, *policy.class_thresholds.values()])
    higher = data.draw(st.floats(policy.min_score, ceiling))
    pickier = GatePolicy(
        threshold=policy.threshold,
        min_score=higher,
        class_thresholds=policy.class_thresholds,
        labels=policy.labels,
    )
    loose, picky = gate_detections(boxes, policy), gate_detections(boxes, pickier)
    assert is_subsequence(picky.kept, loose.kept)
    assert picky.accepted == loose.accepted  # min_score never decides acceptance
    assert picky.dropped_low_score >= loose.dropped_low_score
