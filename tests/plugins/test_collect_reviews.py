"""CollectReviewsOperator.execute against the stand-in: one result record per image, written per
shard; reviewers' answers merged; a review that gave no usable answer keeps the model's boxes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from support import (
    ACCEPTED,
    CAR,
    CAR_DRAWN,
    TO_REVIEW,
    image_row,
    loop_of,
    make_plan,
    read_documents,
    task_context,
    write_shards,
)

from hitl_detection.operators.collect_reviews import CollectReviewsOperator
from hitl_detection.operators.start_reviews import StartReviewsOperator

pytestmark = pytest.mark.stack

PERSON_DRAWN = {"label": "person", "left": 100, "top": 50, "width": 20, "height": 60}


def collect(plan) -> dict:
    return CollectReviewsOperator(task_id="collect_reviews", plan=plan.to_xcom()).execute(task_context())


def records_by_image(plan) -> dict[str, dict]:
    return {
        record["image_s3_uri"].rsplit("/", 1)[-1]: record
        for records in read_documents(plan, "records").values()
        for record in records
    }


@pytest.fixture
def plan(aws, make_flow_definition, bucket):
    """Two reviewers per loop; the loops started by start_reviews over two shards of detections."""
    plan = make_plan(flow_definition_arn=make_flow_definition("two-reviewers", task_count=2))
    write_shards(
        plan,
        "detections",
        [
            [
                image_row("accepted.jpg", ACCEPTED),
                image_row("reviewed.jpg", TO_REVIEW),
                image_row("expired.jpg", TO_REVIEW),
                image_row("broken.jpg", error="ImageError: not a JPEG: starts with 68 65 6c 6c 6f"),
            ],
            [
                image_row("stopped.jpg", TO_REVIEW),
                image_row("deleted.jpg", TO_REVIEW),
                image_row("garbled.jpg", TO_REVIEW),
            ],
        ],
    )
    StartReviewsOperator(task_id="start_reviews", plan=plan.to_xcom()).execute(task_context())
    return plan


def test_every_image_gets_its_record_in_the_shard_it_came_in(aws, plan, reviewer):
    a2i = aws.client("sagemaker-a2i-runtime")
    reviewer.answer(loop_of("reviewed.jpg"), [CAR_DRAWN, PERSON_DRAWN], "worker-1")
    reviewer.answer(loop_of("reviewed.jpg"), [{**CAR_DRAWN, "left": 13, "top": 22}], "worker-2")
    reviewer.fail(loop_of("expired.jpg"), "Expired", "no worker took the task in time")
    a2i.stop_human_loop(HumanLoopName=loop_of("stopped.jpg"))
    a2i.stop_human_loop(HumanLoopName=loop_of("deleted.jpg"))
    a2i.delete_human_loop(HumanLoopName=loop_of("deleted.jpg"))
    reviewer.answer(loop_of("garbled.jpg"), [CAR_DRAWN], "worker-1")
    reviewer.answer(loop_of("garbled.jpg"), [CAR_DRAWN], "worker-2")
    garbled_uri = a2i.describe_human_loop(HumanLoopName=loop_of("garbled.jpg"))["HumanLoopOutput"][
        "OutputS3Uri"
    ]
    bucket, _, key = garbled_uri.removeprefix("s3://").partition("/")
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=b"{not json")

    counts = collect(plan)

    assert counts == {"accepted": 1, "reviewed": 1, "review_failed": 4, "error": 1}
    shards = read_documents(plan, "records")
    assert [
        [record["image_s3_uri"].rsplit("/", 1)[-1] for record in records] for records in shards.values()
    ] == [
        ["accepted.jpg", "reviewed.jpg", "expired.jpg", "broken.jpg"],
        ["stopped.jpg", "deleted.jpg", "garbled.jpg"],
    ]
    records = records_by_image(plan)
    assert {name: record["status"] for name, record in records.items()} == {
        "accepted.jpg": "accepted",
        "reviewed.jpg": "reviewed",
        "expired.jpg": "review_failed",
        "broken.jpg": "error",
        "stopped.jpg": "review_failed",
        "deleted.jpg": "review_failed",
        "garbled.jpg": "review_failed",
    }
    assert len({frozenset(record) for record in records.values()}) == 1  # the same keys always

    assert records["accepted.jpg"]["boxes"] == [CAR.to_record()]
    assert records["accepted.jpg"]["image_size"] == {"width": 640, "height": 480}

    reviewed = records["reviewed.jpg"]
    # The two reviewers' cars are one box, at their mean; the person only one of two drew is kept.
    assert reviewed["boxes"] == [
        {"label": "car", "left": 12, "top": 21, "width": 30, "height": 40, "score": None, "source": "human"},
        {**PERSON_DRAWN, "score": None, "source": "human"},
    ]
    assert reviewed["review"]["reviewers"] == ["worker-1", "worker-2"]
    assert reviewed["review"]["task"] == loop_of("reviewed.jpg")
    assert reviewed["review"]["inference"] == "endpoint"  # how the boxes it started from were made
    assert reviewed["changes"]["moved"][0]["from"] == CAR.to_record()
    assert [box["label"] for box in reviewed["changes"]["added"]] == ["person"]

    failures = {name: records[name]["error"] for name in ("expired.jpg", "stopped.jpg", "deleted.jpg")}
    expired = "Failed: Expired: no worker took the task in time"
    assert failures == {
        "expired.jpg": f"human loop {loop_of('expired.jpg')} {expired}",
        "stopped.jpg": f"human loop {loop_of('stopped.jpg')} Stopped",
        "deleted.jpg": f"human loop {loop_of('deleted.jpg')} was deleted before its answers were collected: "
        "it no longer exists",
    }
    garbled = records["garbled.jpg"]["error"]
    assert garbled.startswith(f"human loop {loop_of('garbled.jpg')} output {garbled_uri}: ")
    for name in ("expired.jpg", "stopped.jpg", "deleted.jpg", "garbled.jpg"):
        assert records[name]["boxes"] == [CAR.to_record()], name  # the model's accepted boxes are kept
    assert records["broken.jpg"]["error"] == "ImageError: not a JPEG: starts with 68 65 6c 6c 6f"
    assert records["broken.jpg"]["boxes"] == []


def test_an_image_to_review_without_a_ticket_is_a_failed_review(aws, flow_definition, bucket, a2i_calls):
    plan = make_plan()
    write_shards(plan, "reviews", [[image_row("missed.jpg", TO_REVIEW)]])

    assert collect(plan) == {"review_failed": 1}
    [record] = records_by_image(plan).values()
    assert record["error"] == "no review task was started"
    assert record["review"] == {"backend": "a2i", "task": None, "inference": "endpoint"}
    assert sum(a2i_calls.values()) == 0


def test_a_loop_not_finished_yet_is_a_failed_review_of_that_image(aws, flow_definition, bucket):
    plan = make_plan()
    write_shards(plan, "detections", [[image_row("a.jpg", TO_REVIEW)]])
    StartReviewsOperator(task_id="start_reviews", plan=plan.to_xcom()).execute(task_context())

    assert collect(plan) == {"review_failed": 1}
    [record] = records_by_image(plan).values()
    assert record["error"] == f"human loop {loop_of('a.jpg')} is still InProgress; expected it to be finished"
    loop = aws.client("sagemaker-a2i-runtime").describe_human_loop(HumanLoopName=loop_of("a.jpg"))
    assert loop["HumanLoopStatus"] == "InProgress"  # left alone: only a wait's deadline ends it


def test_after_the_waits_deadline_an_open_loop_is_stopped_and_an_answered_one_collected(
    aws, flow_definition, bucket, reviewer
):
    plan = make_plan()
    write_shards(plan, "detections", [[image_row("open.jpg", TO_REVIEW), image_row("late.jpg", TO_REVIEW)]])
    StartReviewsOperator(task_id="start_reviews", plan=plan.to_xcom()).execute(task_context())
    reviewer.answer(loop_of("late.jpg"), [CAR_DRAWN])  # after the deadline, before the collect
    deadline = {"at": "2026-12-04T10:00:00+00:00", "state": "1 of 2 review tasks finished"}
    waited = {"finished": None, "failed": [], "deadline_reached": deadline}

    counts = CollectReviewsOperator(task_id="collect_reviews", plan=plan.to_xcom(), waited=waited).execute(
        task_context()
    )

    assert counts == {"review_failed": 1, "reviewed": 1}
    records = records_by_image(plan)
    assert records["open.jpg"]["error"] == (
        "the wait for the reviews reached its deadline (2026-12-04T10:00:00+00:00) first: human loop "
        f"{loop_of('open.jpg')} was stopped, so that no one answers it (A2I bills each reviewed object) "
        "after the run published"
    )
    a2i = aws.client("sagemaker-a2i-runtime")
    assert a2i.describe_human_loop(HumanLoopName=loop_of("open.jpg"))["HumanLoopStatus"] == "Stopped"
    assert records["late.jpg"]["status"] == "reviewed"


def test_an_answer_that_cannot_be_read_for_another_reason_fails_the_task_for_a_retry(
    aws, flow_definition, bucket, reviewer
):
    """Permissions, a lost bucket, an outage: raised, so that the task is retried, not answers lost."""
    plan = make_plan()
    write_shards(plan, "detections", [[image_row("a.jpg", TO_REVIEW)]])
    StartReviewsOperator(task_id="start_reviews", plan=plan.to_xcom()).execute(task_context())
    reviewer.answer(loop_of("a.jpg"), [CAR_DRAWN])
    s3 = aws.client("s3")
    for item in s3.list_objects_v2(Bucket="a2i-output")["Contents"]:
        s3.delete_object(Bucket="a2i-output", Key=item["Key"])
    s3.delete_bucket(Bucket="a2i-output")

    with pytest.raises(ClientError, match="NoSuchBucket"):
        collect(plan)

    assert read_documents(plan, "records") == {}


def test_answers_are_checked_against_the_runs_labels_and_the_stored_image(aws, plan, reviewer):
    """The stored image is 640x480 and the run's labels car and person."""
    outside = {"label": "car", "left": 5000, "top": 4000, "width": 9000, "height": 9000}
    reaching_out = {"label": "person", "left": 600, "top": 400, "width": 100, "height": 100}
    untrusted = [
        CAR_DRAWN,
        {**CAR_DRAWN, "label": "zebra"},
        {**CAR_DRAWN, "label": "<b>car</b>"},
        outside,
        {**CAR_DRAWN, "width": 0, "height": 0},
        reaching_out,
    ]
    reviewer.answer(loop_of("reviewed.jpg"), untrusted, "worker-1")
    reviewer.answer(loop_of("reviewed.jpg"), [CAR_DRAWN], "worker-2", image_size=(480, 640))
    reviewer.answer(loop_of("expired.jpg"), [CAR_DRAWN], "worker-1", image_size=(480, 640))
    reviewer.answer(loop_of("expired.jpg"), [CAR_DRAWN], "worker-2", image_size=(480, 640))

    collect(plan)

    records = records_by_image(plan)
    reviewed = records["reviewed.jpg"]
    assert reviewed["status"] == "reviewed"
    # worker-2 saw the image turned: refused; worker-1's boxes are checked one by one.
    assert reviewed["boxes"] == [
        {**CAR_DRAWN, "score": None, "source": "human"},
        {
            "label": "person",
            "left": 600,
            "top": 400,
            "width": 40,
            "height": 80,
            "score": None,
            "source": "human",
        },
    ]
    checks = reviewed["review"]["answer_checks"]
    assert [(item["reviewer"], item["box"]["label"], item["reason"]) for item in checks["boxes_dropped"]] == [
        ("worker-1", "zebra", "label 'zebra' is not one of the run's labels ['car', 'person']"),
        ("worker-1", "<b>car</b>", "label '<b>car</b>' is not one of the run's labels ['car', 'person']"),
        ("worker-1", "car", "the box lies outside the 640x480 image"),
        ("worker-1", "car", "the box has no area (0x0)"),
    ]
    assert checks["boxes_clipped"] == [
        {
            "reviewer": "worker-1",
            "box": {**reaching_out, "score": None, "source": "human"},
            "clipped_to": {**reaching_out, "width": 40, "height": 80, "score": None, "source": "human"},
        }
    ]
    refusal = (
        "drawn on the image as 480x640, but the stored image is 640x480 (turned by its EXIF orientation, "
        "or resized?): its boxes would be misplaced"
    )
    assert checks["answers_refused"] == [{"reviewer": "worker-2", "reason": refusal}]
    # Every answer refused: the review failed, and the model's accepted boxes are kept.
    turned = records["expired.jpg"]
    assert turned["status"] == "review_failed"
    assert (
        turned["error"] == f"every reviewer's answer was refused (worker-1: {refusal}; worker-2: {refusal})"
    )
    assert turned["boxes"] == [CAR.to_record()]
    assert len(turned["review"]["answer_checks"]["answers_refused"]) == 2
