"""The rows the stages of a run hand to each other survive a JSON round trip unchanged."""

import json

from box_strategies import model_boxes
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.boxes import Box
from hitl_detection.gating import GatePolicy, gate_detections
from hitl_detection.work_rows import (
    boxes_from_records,
    decision_from_dict,
    decision_row,
    decision_to_dict,
    image_row,
    prediction_row,
    size_from_record,
    size_record,
)

IMAGE = image_row("images/a.jpg", "s3://in/images/a.jpg")
POLICY = GatePolicy(threshold=0.9, min_score=0.2, labels=("dog", "person"))


def test_a_prediction_row_carries_the_detections_or_the_error():
    boxes = [Box("car", 1, 2, 30, 40, 0.95), Box("dog", 5, 5, 10, 10, 0.5)]
    ok = prediction_row(IMAGE, image_size=(640, 400), detections=boxes)
    failed = prediction_row(IMAGE, error="ImageError: not a JPEG")

    assert ok["image_key"] == "images/a.jpg"
    assert size_from_record(ok["image_size"]) == (640, 400)
    assert boxes_from_records(ok["detections"]) == boxes
    assert ok["error"] is None
    assert failed["detections"] is None
    assert failed["image_size"] is None
    assert failed["error"] == "ImageError: not a JPEG"


def test_a_failed_prediction_gives_a_decision_row_without_a_decision():
    row = decision_row(prediction_row(IMAGE, error="boom"), None)
    assert row["decision"] is None
    assert row["error"] == "boom"


def test_sizes_and_missing_sizes_round_trip():
    assert size_record(None) is None
    assert size_from_record(None) is None
    assert size_from_record(size_record((3, 4))) == (3, 4)
    assert boxes_from_records(None) == []


@given(st.lists(model_boxes, max_size=8))
def test_a_decision_survives_the_trip_through_a_file(boxes):
    decision = gate_detections(boxes, POLICY)
    prediction = prediction_row(IMAGE, image_size=(800, 600), detections=boxes)
    row = json.loads(json.dumps(decision_row(prediction, decision)))

    assert decision_from_dict(row["decision"]) == decision
    assert decision_to_dict(decision_from_dict(row["decision"])) == row["decision"]
