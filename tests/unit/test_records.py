import json

import pytest
from box_strategies import int_boxes, model_boxes
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.gating import GatePolicy, gate_detections
from hitl_detection.domain.records import (
    STATUSES,
    BoxChanges,
    SummaryBuilder,
    accepted_record,
    diff_boxes,
    error_record,
    format_summary,
    review_failed_record,
    reviewed_record,
)

URI = "s3://images-bucket/incoming/dog.jpg"
RECORD_KEYS = {
    "image_s3_uri",
    "status",
    "boxes",
    "model_boxes",
    "changes",
    "review",
    "error",
    "image_size",
    "dropped_other_label",
    "needs_review",
}
DOG = Box("dog", 10, 10, 100, 100, score=0.97)
BIKE = Box("bicycle", 300, 50, 80, 60, score=0.6)
CAR = Box("car", 0, 0, 5, 5, score=0.99)
POLICY = GatePolicy(labels=("dog", "bicycle"))
REVIEW = {"backend": "a2i", "task": "dog-0123", "reviewers": ["w-1"], "seconds": 12.5}


def human(label, left, top, width, height):
    return Box(label, left, top, width, height, score=None, source="human")


def test_diff_boxes():
    model = [Box("dog", 0, 0, 10, 10), Box("dog", 100, 100, 10, 10), Box("cat", 50, 0, 10, 10)]
    final = [human("dog", 1, 0, 10, 10), human("cat", 50, 0, 10, 10), human("person", 0, 50, 5, 5)]
    assert diff_boxes(model, final) == BoxChanges(
        added=(final[2],),
        removed=(model[1],),
        moved=((model[0], final[0]),),
    )


def test_a_relabelled_box_is_removed_and_added():
    changes = diff_boxes([Box("dog", 0, 0, 10, 10)], [human("cat", 0, 0, 10, 10)])
    assert (len(changes.added), len(changes.removed), changes.moved) == (1, 1, ())


@given(st.lists(int_boxes(), max_size=8), st.lists(int_boxes(), max_size=8))
def test_diff_accounts_for_every_box(model, final):
    changes = diff_boxes(model, final)
    matched = len(model) - len(changes.removed)
    assert matched == len(final) - len(changes.added)
    assert len(changes.moved) <= matched
    assert diff_boxes(model, model) == BoxChanges()


def test_changes_to_dict():
    changes = BoxChanges(added=(human("dog", 1, 2, 3, 4),), moved=((DOG, human("dog", 11, 10, 100, 100)),))
    assert changes.to_dict() == {
        "added": [human("dog", 1, 2, 3, 4).to_record()],
        "removed": [],
        "moved": [{"from": DOG.to_record(), "to": human("dog", 11, 10, 100, 100).to_record()}],
    }


def test_accepted_record():
    decision = gate_detections([DOG, CAR, Box("dog", 0, 0, 1, 1, score=0.05)], POLICY)
    record = accepted_record(URI, decision, (640, 480))
    assert record == {
        "image_s3_uri": URI,
        "status": "accepted",
        "boxes": [DOG.to_record()],
        "model_boxes": [DOG.to_record(), CAR.to_record()],
        "changes": None,
        "review": None,
        "error": None,
        "image_size": {"width": 640, "height": 480},
        "dropped_other_label": 1,
        "needs_review": False,
    }


def test_accepted_record_refuses_an_image_that_needs_review():
    with pytest.raises(
        ValueError, match=f"{URI} needs review \\(bicycle scored 0.6, under its threshold 0.9\\)"
    ):
        accepted_record(URI, gate_detections([BIKE], POLICY), None)


def test_reviewed_record_keeps_untouched_model_boxes_as_model():
    decision = gate_detections([DOG, BIKE, CAR], POLICY)
    final = [human("dog", 10, 10, 100, 100), human("bicycle", 302, 50, 80, 62)]
    record = reviewed_record(URI, decision, final, REVIEW, (640, 480))
    assert record["status"] == "reviewed"
    assert record["boxes"] == [DOG.to_record(), human("bicycle", 302, 50, 80, 62).to_record()]
    assert record["model_boxes"] == [DOG.to_record(), BIKE.to_record(), CAR.to_record()]
    assert record["changes"] == {"added": [final[1].to_record()], "removed": [], "moved": []}
    assert record["review"] == REVIEW
    assert record["review"] is not REVIEW
    assert (record["error"], record["needs_review"], record["dropped_other_label"]) == (None, True, 1)


def test_reviewed_record_counts_moves_and_removals():
    other_dog = Box("dog", 400, 300, 50, 50, score=0.95)
    decision = gate_detections([DOG, other_dog, BIKE], POLICY)
    final = [Box("dog", 15, 10, 100, 100, score=0.5, source="model")]
    record = reviewed_record(URI, decision, final, REVIEW, None)
    moved = human("dog", 15, 10, 100, 100)
    assert record["boxes"] == [moved.to_record()]
    assert record["changes"] == {
        "added": [],
        "removed": [other_dog.to_record()],
        "moved": [{"from": DOG.to_record(), "to": moved.to_record()}],
    }
    assert record["image_size"] is None


def test_review_failed_record_keeps_the_accepted_boxes():
    decision = gate_detections([DOG, BIKE], POLICY)
    record = review_failed_record(URI, decision, REVIEW, "human loop Failed: Expired", (640, 480))
    assert record["status"] == "review_failed"
    assert record["boxes"] == [DOG.to_record()]
    assert record["error"] == "human loop Failed: Expired"
    assert record["changes"] is None


def test_error_record():
    assert error_record(URI, "not a JPEG: starts with 89 50") == {
        "image_s3_uri": URI,
        "status": "error",
        "boxes": [],
        "model_boxes": [],
        "changes": None,
        "review": None,
        "error": "not a JPEG: starts with 89 50",
        "image_size": None,
        "dropped_other_label": 0,
        "needs_review": False,
    }


@pytest.mark.parametrize("error", ["", None])
def test_failures_need_a_description(error):
    with pytest.raises(ValueError, match=f"a error record for {URI} needs the error's description"):
        error_record(URI, error)
    with pytest.raises(ValueError, match="a review_failed record for"):
        review_failed_record(URI, gate_detections([BIKE], POLICY), REVIEW, error, None)


def some_records():
    decision = gate_detections([DOG, BIKE, CAR], POLICY)
    return [
        accepted_record(URI, gate_detections([DOG, CAR], POLICY), (640, 480)),
        reviewed_record(
            URI,
            decision,
            [human("dog", 12, 10, 100, 100), human("bicycle", 300, 50, 80, 60), human("dog", 1, 1, 2, 2)],
            REVIEW,
            (640, 480),
        ),
        reviewed_record(URI, decision, [], REVIEW, (640, 480)),
        review_failed_record(URI, decision, REVIEW, "Expired", (640, 480)),
        error_record("s3://images-bucket/incoming/bad.png", "truncated PNG"),
    ]


def test_every_record_has_the_same_keys_and_is_json():
    for record in some_records():
        assert set(record) == RECORD_KEYS
        assert record["status"] in STATUSES
        assert json.loads(json.dumps(record)) == record


def test_summary():
    summary = SummaryBuilder()
    for record in some_records():
        summary.add(record)
    assert summary.to_dict() == {
        "images": 5,
        "by_status": {"accepted": 1, "reviewed": 2, "review_failed": 1, "error": 1},
        "boxes": 1 + 3 + 0 + 1,
        "boxes_by_source": {"model": 2, "human": 3},
        "per_label": {
            "bicycle": {"model": 3, "final": 1, "added": 1, "removed": 0, "moved": 0},
            "car": {"model": 4, "final": 0, "added": 0, "removed": 0, "moved": 0},
            "dog": {"model": 4, "final": 4, "added": 1, "removed": 1, "moved": 1},
        },
        "human_changes": {"added": 2, "removed": 1, "moved": 1},
        "dropped_other_label": 4,
        "answer_checks": {"boxes_dropped": 0, "boxes_clipped": 0, "answers_refused": 0},
        "errors": [
            {"image_s3_uri": URI, "error": "Expired"},
            {"image_s3_uri": "s3://images-bucket/incoming/bad.png", "error": "truncated PNG"},
        ],
    }


def test_empty_summary():
    assert SummaryBuilder().to_dict() == {
        "images": 0,
        "by_status": dict.fromkeys(STATUSES, 0),
        "boxes": 0,
        "boxes_by_source": {"model": 0, "human": 0},
        "per_label": {},
        "human_changes": {"added": 0, "removed": 0, "moved": 0},
        "dropped_other_label": 0,
        "answer_checks": {"boxes_dropped": 0, "boxes_clipped": 0, "answers_refused": 0},
        "errors": [],
    }


def test_summary_counts_what_the_answer_checks_took_out_or_changed():
    decision = gate_detections([DOG, BIKE], POLICY)
    checks = {
        "boxes_dropped": [{"reviewer": "w-1"}, {"reviewer": "w-2"}],
        "boxes_clipped": [{"reviewer": "w-1"}],
        "answers_refused": [],
    }
    summary = SummaryBuilder()
    summary.add(reviewed_record(URI, decision, [], {**REVIEW, "answer_checks": checks}, (640, 480)))
    summary.add(review_failed_record(URI, decision, REVIEW, "Expired", (640, 480)))

    assert summary.to_dict()["answer_checks"] == {
        "boxes_dropped": 2,
        "boxes_clipped": 1,
        "answers_refused": 0,
    }
    text = format_summary(summary.to_dict()).splitlines()
    assert "Reviewers' answers corrected: 2 boxes dropped, 1 boxes clipped, 0 answers refused" in text


def test_summary_keeps_only_the_first_20_errors():
    summary = SummaryBuilder()
    for index in range(1000):
        summary.add(error_record(f"s3://bucket/{index}.jpg", f"error {index}"))
    errors = summary.to_dict()["errors"]
    assert [error["error"] for error in errors] == [f"error {index}" for index in range(20)]
    assert summary.to_dict()["by_status"]["error"] == 1000


def test_summary_rejects_unknown_status():
    with pytest.raises(
        ValueError, match=r"record for s3://b/x.jpg has status 'done', not one of \('accepted'"
    ):
        SummaryBuilder().add({"image_s3_uri": "s3://b/x.jpg", "status": "done"})


def test_format_summary():
    summary = SummaryBuilder()
    for record in some_records():
        summary.add(record)
    text = format_summary(
        {
            "run_id": "manual__1",
            "inference": "batch_transform",
            "results_s3_uri": "s3://out/results.jsonl",
            **summary.to_dict(),
        }
    )
    assert text.splitlines() == [
        "run_id: manual__1",
        "inference: batch_transform",
        "results_s3_uri: s3://out/results.jsonl",
        "Images: 5 (accepted 1, reviewed 2, review_failed 1, error 1)",
        "Final boxes: 5 (model 2, human 3)",
        "Reviewers' changes: 2 added, 1 removed, 1 moved",
        "Detections of other labels dropped: 4",
        "Per label (model -> final; added, removed, moved):",
        "  bicycle  3 -> 1; +1 -0 ~0",
        "  car      4 -> 0; +0 -0 ~0",
        "  dog      4 -> 4; +1 -1 ~1",
        "Errors (2):",
        f"  {URI}: Expired",
        "  s3://images-bucket/incoming/bad.png: truncated PNG",
    ]


def test_format_summary_of_an_empty_run_and_of_many_errors():
    assert format_summary(SummaryBuilder().to_dict()).splitlines()[0] == (
        "Images: 0 (accepted 0, reviewed 0, review_failed 0, error 0)"
    )
    summary = SummaryBuilder()
    for index in range(25):
        summary.add(error_record(f"s3://bucket/{index}.jpg", "boom"))
    assert "Errors (25, the first 20):" in format_summary(summary.to_dict())


@given(st.lists(model_boxes, max_size=10))
def test_records_of_any_gate_decision_are_consistent(boxes):
    decision = gate_detections(boxes, POLICY)
    if decision.needs_review:
        record = review_failed_record(URI, decision, REVIEW, "Stopped", None)
    else:
        record = accepted_record(URI, decision, None)
    assert len(record["boxes"]) == len(decision.accepted)
    assert len(record["model_boxes"]) == len(decision.kept)
    assert record["needs_review"] == decision.needs_review
