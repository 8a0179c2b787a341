"""The threshold advisor's estimate and advice, on records built by the pipeline's own functions."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.gating import GatePolicy, gate_detections
from hitl_detection.domain.records import accepted_record, error_record, review_failed_record, reviewed_record
from hitl_detection.domain.threshold_advice import (
    SCORE_BINS,
    Advice,
    ReviewEvidence,
    advise_thresholds,
    bin_floor,
    first_accepted_bin,
    format_advice,
    isotonic_steps,
    run_labels,
    score_bin,
)

LABELS = ("car", "person", "bus")
POLICY = GatePolicy(labels=LABELS)
SIZE = (640, 480)
REVIEW = {"backend": "a2i", "task": "loop"}


def box(label, score, left=0, width=20):
    return Box(label, left, 0, width, 20, score)


def human(label, left=0, width=20):
    return Box(label, left, 0, width, 20, source="human")


def uri(number):
    return f"s3://runs/images/{number}.jpg"


def reviewed(number, model, final):
    return reviewed_record(uri(number), gate_detections(model, POLICY), final, REVIEW, SIZE)


def accepted(number, model):
    return accepted_record(uri(number), gate_detections(model, POLICY), SIZE)


def a_run():
    """40 reviewed cars: 0.95 kept (20), 0.6 nudged but kept (10), 0.3 deleted (10); 5 images
    accepted with a car at 0.97; 2 reviewed persons; 30 buses all deleted; a dog of no run label."""
    records = []
    for number in range(10):
        records.append(reviewed(number, [box("car", 0.95), box("car", 0.3, left=100)], [human("car")]))
    for number in range(10, 20):
        records.append(
            reviewed(
                number, [box("car", 0.95), box("car", 0.6, left=100)], [human("car"), human("car", left=101)]
            )
        )
    records += [accepted(number, [box("car", 0.97), box("dog", 0.5, left=300)]) for number in range(20, 25)]
    records += [reviewed(number, [box("person", 0.5)], [human("person")]) for number in range(25, 27)]
    records += [reviewed(number, [box("bus", 0.92 + number / 1000)], []) for number in range(30, 60)]
    records.append(
        review_failed_record(uri(60), gate_detections([box("car", 0.4)], POLICY), REVIEW, "stopped", SIZE)
    )
    records.append(error_record(uri(61), "ImageError: not a JPEG"))
    return records


def evidence_of(records, match_iou=0.5):
    evidence = ReviewEvidence(match_iou)
    for record in records:
        evidence.add(json.loads(json.dumps(record)), LABELS)
    return evidence


@pytest.fixture(scope="module")
def advice() -> Advice:
    return advise_thresholds(evidence_of(a_run()))


def by_label(advice):
    return {item.label: item for item in advice.labels}


def test_a_label_gets_the_lowest_threshold_whose_accepted_boxes_reach_the_target(advice):
    car = by_label(advice)["car"]
    assert (car.boxes, car.reviewed, car.kept) == (46, 40, 30)
    # The car at 0.4 was never seen by a reviewer: it is kept as often as the step below it, never.
    assert car.curve[:2] == ((0.3, 35 / 46, 46), (0.4, 35 / 36, 36))
    assert (car.threshold, car.basis, car.precision) == (0.4, "estimated", 35 / 36)
    assert [(step.low, step.high, step.rate) for step in car.steps] == [(0.3, 0.3, 0.0), (0.6, 0.95, 1.0)]
    assert car.precision_at_global == 1.0


def test_a_label_with_few_reviewed_boxes_keeps_the_global_threshold(advice):
    person = by_label(advice)["person"]
    assert (person.threshold, person.basis, person.reviewed, person.kept) == (0.9, "too little data", 2, 2)
    assert person.precision is None  # no person box at 0.9 or above
    assert "person: 2 reviewed boxes, fewer than 30: keeps the global threshold 0.9." in advice.notes


def test_a_label_no_threshold_can_trust_goes_to_review_whole(advice):
    bus = by_label(advice)["bus"]
    assert (bus.threshold, bus.basis, bus.precision, bus.precision_at_global) == (
        1.0,
        "unreachable",
        None,
        0.0,
    )
    assert "bus: no threshold reaches precision 0.95; 1.0 sends every box of it to review." in advice.notes


def test_the_form_holds_what_the_trigger_form_takes(advice):
    assert advice.form() == {"threshold": 0.9, "class_thresholds": {"bus": 1.0, "car": 0.4}}
    policy = GatePolicy(labels=LABELS, **advice.form())
    assert policy.threshold_for("person") == 0.9


def test_images_to_review_now_at_the_global_threshold_and_with_the_advice(advice):
    # The runs sent 20 car images, 2 person images and the failed review (a car at 0.4) to review.
    assert (advice.images, advice.sent_to_review, advice.reviewed_images) == (59, 23, 52)
    assert advice.to_review_at_global == 23
    # With the advice: the 10 images with a car at 0.3, 2 persons (at 0.9), 30 buses (at 1.0).
    assert advice.to_review_advised == 42


def test_only_reviewed_images_show_a_box_s_fate_and_other_labels_do_not_count():
    evidence = evidence_of(a_run())
    boxes, reviewed_boxes, kept = evidence.label_counts("car")
    assert (boxes[score_bin(0.97)], reviewed_boxes[score_bin(0.97)]) == (5, 0)
    assert (boxes[score_bin(0.4)], reviewed_boxes[score_bin(0.4)]) == (1, 0)
    assert (kept[score_bin(0.6)], kept[score_bin(0.3)]) == (10, 0)
    assert evidence.label_counts("dog") == ({}, {}, {})
    assert evidence.labels == ("bus", "car", "person")


def test_a_box_moved_further_than_match_iou_is_not_kept():
    record = reviewed(1, [box("car", 0.5)], [human("car", left=5)])  # IoU 15/25 = 0.6
    assert evidence_of([record], match_iou=0.5).label_counts("car")[2][score_bin(0.5)] == 1
    assert evidence_of([record], match_iou=0.7).label_counts("car")[2][score_bin(0.5)] == 0


def test_images_to_review_reads_a_threshold_between_thousandths_from_the_next():
    evidence = evidence_of([accepted(1, [box("car", 0.9125)])])
    assert evidence.images_to_review({"car": 0.912}, 0.9) == 0
    assert evidence.images_to_review({"car": 0.9121}, 0.9) == 1
    assert evidence.images_to_review({}, 0.95) == 1


def test_the_table_and_notes(advice):
    text = format_advice(advice)
    assert "| car | 46 | 40 | 30 | 0.4 | estimated | 0.972 | 1.000 |" in text
    assert "| person | 2 | 2 | 2 | 0.9 | too little data | - | - |" in text
    assert "Images: 59; sent to review by the runs: 23 (39.0%); estimated with 0.9" in text
    assert 'Trigger form: {"class_thresholds": {"bus": 1.0, "car": 0.4}, "threshold": 0.9}' in text
    assert "- A box's fate is seen only in reviewed images (52 of 59)" in text


def test_no_records_give_no_advice_of_their_own():
    advice = advise_thresholds(ReviewEvidence())
    assert (advice.labels, advice.form()) == ((), {"threshold": 0.9, "class_thresholds": {}})
    assert "Images: 0; sent to review by the runs: 0;" in format_advice(advice)


def test_observed_rates_and_boxes_by_score_range(advice):
    car = by_label(advice)["car"]
    assert car.survival_by_range(50) == [(0.3, 0.35, 10, 0), (0.6, 0.65, 10, 10), (0.95, 1.0, 20, 20)]
    assert car.boxes_by_range(100) == [(0.3, 0.4, 10), (0.4, 0.5, 1), (0.6, 0.7, 10), (0.9, 1.0, 25)]
    top = by_label(advise_thresholds(evidence_of([accepted(1, [box("car", 1.0)])])))["car"]
    assert top.boxes_by_range(1) == [(0.999, 1.0, 1)]
    for width in (0, 1001, True, 0.05):
        with pytest.raises(ValueError, match="is not a whole number of thousandths"):
            car.survival_by_range(width)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"target_precision": 1.5}, "target_precision 1.5 is above 1"),
        ({"target_precision": 0}, "target_precision 0 accepts anything"),
        ({"global_threshold": "high"}, "threshold 'high' is not a number"),
        ({"min_reviewed_boxes": 0}, "min_reviewed_boxes 0 is not a whole number of at least 1"),
        ({"min_reviewed_boxes": True}, "min_reviewed_boxes True is not a whole number"),
    ],
)
def test_bad_options_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        advise_thresholds(ReviewEvidence(), **options)


def test_a_bad_match_iou_is_refused():
    with pytest.raises(ValueError, match="iou_threshold 0 is outside"):
        ReviewEvidence(0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"status": "done"}, "has status 'done', not one of"),
        ({"model_boxes": None}, "has model_boxes None, expected a list of box records"),
        ({"boxes": "none"}, "has boxes 'none', expected a list"),
        ({"model_boxes": [7]}, "model box 0 is 7, expected a box record"),
        (
            {"model_boxes": [{**box("car", 0.5).to_record(), "score": None}]},
            "model box 0 score None is not a number",
        ),
        ({"model_boxes": [{"label": "car"}]}, "box record lacks left"),
    ],
)
def test_a_malformed_record_is_named(change, message):
    record = {**reviewed(1, [box("car", 0.5)], [human("car")]), **change}
    with pytest.raises(ValueError, match=message):
        ReviewEvidence().add(record, LABELS)


def test_run_labels_come_from_the_summary():
    assert run_labels({"config": {"labels": ["car", "bus"]}}, "s.json") == ("car", "bus")
    with pytest.raises(ValueError, match=r"s.json has no config.labels"):
        run_labels({"images": 3}, "s.json")
    with pytest.raises(ValueError, match=r"s.json has no config.labels"):
        run_labels({"config": {}}, "s.json")
    with pytest.raises(ValueError, match=r"s.json: config.labels\[1\] 'car' is a duplicate"):
        run_labels({"config": {"labels": ["car", "car"]}}, "s.json")


@given(st.floats(min_value=0, max_value=1))
def test_a_score_is_in_its_thousandth_and_its_floor_accepts_it(score):
    index = score_bin(score)
    assert bin_floor(index) <= score
    assert index == SCORE_BINS or score < bin_floor(index + 1)
    assert first_accepted_bin(bin_floor(index)) == index


observations = st.dictionaries(
    st.integers(0, SCORE_BINS), st.integers(1, 20).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n)))
)


@given(observations)
def test_isotonic_steps_never_fall_and_keep_every_box(observed):
    points = [(index, n, kept) for index, (n, kept) in sorted(observed.items())]
    steps = isotonic_steps(points)
    rates = [kept / n for _, _, n, kept in steps]
    assert rates == sorted(rates)
    assert sum(n for *_, n, _ in steps) == sum(n for _, n, _ in points)
    assert sum(kept for *_, kept in steps) == sum(kept for *_, kept in points)
    assert [
        index for index, _, _ in points if any(first <= index <= last for first, last, _, _ in steps)
    ] == [index for index, _, _ in points]


@given(
    st.lists(st.tuples(st.integers(20, 100), st.booleans()), min_size=1, max_size=60),
    st.floats(min_value=0.5, max_value=1),
)
def test_the_advised_threshold_is_the_lowest_that_reaches_the_target(boxes, target):
    records = [
        reviewed(number, [box("car", score / 100)], [human("car")] if kept else [])
        for number, (score, kept) in enumerate(boxes)
    ]
    car = by_label(advise_thresholds(evidence_of(records), target_precision=target, min_reviewed_boxes=1))[
        "car"
    ]
    reaching = [threshold for threshold, precision, _ in car.curve if precision >= target]
    if car.basis == "estimated":
        assert car.precision >= target
        assert car.threshold == min(reaching)
    else:
        assert (car.basis, car.threshold, reaching) == ("unreachable", 1.0, [])
