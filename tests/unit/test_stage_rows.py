"""The row the stages of a run hand to each other survives its codec and a JSON trip unchanged."""

import json

from box_strategies import model_boxes
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.gating import GatePolicy, gate_detections
from hitl_detection.domain.review_tasks import ReviewTicket
from hitl_detection.domain.stage_rows import ImageRow

IMAGE = ImageRow(key="images/a.jpg", s3_uri="s3://in/images/a.jpg")
POLICY = GatePolicy(threshold=0.9, min_score=0.2, labels=("dog", "person"))


def trip(row: ImageRow) -> ImageRow:
    return ImageRow.from_json(json.loads(json.dumps(row.to_json())))


def test_a_listed_image_has_nothing_but_its_name():
    assert trip(IMAGE) == IMAGE
    assert not IMAGE.needs_review


def test_a_failed_image_carries_its_error_and_no_decision():
    failed = IMAGE.failed("ImageError: not a JPEG")
    assert trip(failed) == failed
    assert failed.decision is None
    assert not failed.needs_review


@given(st.lists(model_boxes, max_size=8), st.booleans(), st.booleans())
def test_a_detected_and_reviewed_row_survives_the_trip(boxes, with_ticket, reused):
    decision = gate_detections(boxes, POLICY)
    row = IMAGE.detected((800, 600), decision)
    if with_ticket:
        row = row.with_ticket(
            ReviewTicket("loop-1", "arn:aws:sagemaker:us-east-1:1:human-loop/loop-1", reused)
        )
    assert trip(row) == row
    assert row.needs_review == decision.needs_review
    assert trip(row).size == (800, 600)
