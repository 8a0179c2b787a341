"""A2IReviewBackend against the stand-in: start once per name, count a run's loops in one sweep,
collect answers, and turn failed loops and bad output into per-image errors."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from hitl_detection.a2i_task import build_input_content
from hitl_detection.boxes import Box
from hitl_detection.hooks.a2i_runtime import A2IRuntimeHook
from hitl_detection.naming import (
    human_loop_name,
    human_loop_name_prefix,
)
from hitl_detection.review.a2i import A2IReviewBackend
from hitl_detection.review.backends import get_review_backend
from hitl_detection.review.base import ReviewRequest, ReviewTicket
from local_aws.stack import inject_fault

RUN_ID = "manual__2026-11-25T10:00:00+00:00"
OTHER_RUN_ID = "scheduled__2026-11-25T00:00:00+00:00"
LABELS = ("car", "person")
CAR = Box("car", 10, 20, 30, 40, 0.97)
PERSON_MAYBE = Box("person", 100, 50, 20, 60, 0.41)


def request_for(
    image_key: str, run_id: str = RUN_ID, initial=(CAR,), uncertain=(PERSON_MAYBE,)
) -> ReviewRequest:
    return ReviewRequest(
        task_name=human_loop_name(run_id, image_key),
        image_s3_uri=f"s3://review-images/{image_key}",
        labels=LABELS,
        initial_boxes=tuple(initial),
        uncertain_boxes=tuple(uncertain),
    )


def content_of(request: ReviewRequest) -> str:
    return build_input_content(
        request.image_s3_uri, request.initial_boxes, request.labels, request.uncertain_boxes
    )


@pytest.fixture
def backend(aws, flow_definition):
    return A2IReviewBackend(flow_definition, aws_conn_id="aws_default")


def scope(flow_definition: str, run_id: str = RUN_ID, created_after: datetime | None = None) -> dict:
    created_after = created_after or datetime.now(UTC) - timedelta(minutes=5)
    return {
        "flow_definition_arn": flow_definition,
        "created_after": created_after.isoformat(),
        "name_prefix": human_loop_name_prefix(run_id),
    }


def loops_of(backend: A2IReviewBackend, flow_definition: str) -> list[str]:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    return [loop["HumanLoopName"] for loop in backend.hook.iter_human_loops(flow_definition, an_hour_ago)]


# Starting


def test_a_second_start_finds_the_loop_instead_of_starting_another(
    backend, flow_definition, reviewer, a2i_calls
):
    request = request_for("street/a.jpg")

    first = backend.start(request)
    second = backend.start(request)

    assert (first.task_name, first.reused) == (request.task_name, False)
    assert (second.task_name, second.reused, second.created_at) == (request.task_name, True, first.created_at)
    assert loops_of(backend, flow_definition) == [request.task_name]
    assert a2i_calls == {"DescribeHumanLoop": 3, "StartHumanLoop": 1, "ListHumanLoops": 1}
    described = backend.hook.describe_human_loop(request.task_name)
    assert datetime.fromisoformat(first.created_at) == described["CreationTime"]
    assert first.created_at.endswith("+00:00")
    [task] = [loop["InputContent"] for loop in reviewer.loops()]
    assert task == {
        "taskObject": "s3://review-images/street/a.jpg",
        "initialValue": [{"label": "car", "left": 10, "top": 20, "width": 30, "height": 40}],
        "labels": ["car", "person"],
        "uncertain": [{"label": "person", "left": 100, "top": 50, "width": 20, "height": 60, "score": 0.41}],
    }


def test_a_loop_started_by_another_try_meanwhile_with_other_input_is_reused(aws, backend, flow_definition):
    request = request_for("street/b.jpg")
    backend.hook.start_human_loop(request.task_name, flow_definition, content_of(request_for("other.jpg")))
    inject_fault(
        aws, "DescribeHumanLoop", "ResourceNotFoundException", count=1
    )  # our describe comes too early

    ticket = backend.start(request)

    assert (ticket.task_name, ticket.reused) == (request.task_name, True)
    assert loops_of(backend, flow_definition) == [request.task_name]


def test_a_loop_started_by_another_try_meanwhile_with_the_same_input_stays_one_loop(
    aws, backend, flow_definition
):
    request = request_for("street/c.jpg")
    backend.hook.start_human_loop(request.task_name, flow_definition, content_of(request))
    inject_fault(aws, "DescribeHumanLoop", "ResourceNotFoundException", count=1)

    ticket = backend.start(request)

    assert ticket.task_name == request.task_name
    assert loops_of(backend, flow_definition) == [request.task_name]


def test_a_loop_under_another_flow_definition_is_refused(aws, make_flow_definition):
    first_flow = make_flow_definition("first-flow")
    second_flow = make_flow_definition("second-flow")
    request = request_for("street/d.jpg")
    A2IReviewBackend(first_flow).start(request)

    with pytest.raises(
        ValueError, match=rf"{request.task_name} exists under flow definition {first_flow}, not "
    ):
        A2IReviewBackend(second_flow).start(request)


def test_the_backend_needs_a_flow_definition():
    with pytest.raises(ValueError, match="needs a flow_definition_arn"):
        A2IReviewBackend("")


# Progress


def test_progress_counts_the_runs_loops_in_one_paged_sweep(backend, flow_definition, reviewer, a2i_calls):
    names = [human_loop_name(RUN_ID, f"img-{number:03d}.jpg") for number in range(130)]
    content = content_of(request_for("img.jpg"))
    for name in names:
        backend.hook.start_human_loop(name, flow_definition, content)
    for number in range(5):  # another run's loops under the same flow definition
        backend.hook.start_human_loop(
            human_loop_name(OTHER_RUN_ID, f"{number}.jpg"), flow_definition, content
        )
    box = {"label": "car", "left": 1, "top": 2, "width": 3, "height": 4}
    for name in names[:100]:
        reviewer.answer(name, [box])
    reviewer.fail(names[100])
    backend.hook.stop_human_loop(names[101])
    a2i_calls.clear()

    progress = backend.progress(scope(flow_definition), expected=130)

    assert a2i_calls == {"ListHumanLoops": math.ceil(135 / 100)}
    assert (progress.expected, progress.finished, progress.done) == (130, 102, False)
    assert set(progress.failed) == {names[100], names[101]}
    assert progress.pending == tuple(names[102:152])[:50]

    for name in names[102:]:
        reviewer.answer(name, [box])
    done = backend.progress(scope(flow_definition), expected=130)
    assert (done.finished, done.done, done.pending) == (130, True, ())


def test_progress_sees_only_loops_created_after_the_scope_start(backend, flow_definition):
    backend.start(request_for("old.jpg"))

    progress = backend.progress(
        scope(flow_definition, created_after=datetime.now(UTC) + timedelta(hours=1)), 1
    )

    assert (progress.finished, progress.pending, progress.done) == (0, (), False)


# Collecting


def test_a_completed_loop_gives_every_reviewers_boxes_and_the_review_record(
    aws, make_flow_definition, reviewer, a2i_calls
):
    flow = make_flow_definition("two-reviewers", task_count=2)
    backend = A2IReviewBackend(flow)
    ticket = backend.start(request_for("street/e.jpg"))
    reviewer.answer(
        ticket.task_name, [{"label": "car", "left": 11, "top": 20, "width": 30, "height": 40}], "ann"
    )
    reviewer.answer(ticket.task_name, [], "bob")
    a2i_calls.clear()

    [outcome] = backend.collect([ticket])

    assert a2i_calls == {"DescribeHumanLoop": 1}
    assert (outcome.task_name, outcome.error, outcome.failed) == (ticket.task_name, None, False)
    assert [answer.worker_id for answer in outcome.answers] == ["ann", "bob"]
    assert outcome.answers[0].boxes == (Box("car", 11, 20, 30, 40, None, "human"),)
    assert outcome.answers[1].boxes == ()
    review = outcome.review
    assert review["backend"] == "a2i"
    assert review["task"] == ticket.task_name
    assert review["loop_arn"].endswith(f":human-loop/{ticket.task_name}")
    assert review["created_at"] == ticket.created_at
    assert review["output_s3_uri"].endswith(f"/{ticket.task_name}/output.json")
    assert review["reviewers"] == ["ann", "bob"]
    assert len(review["submitted_at"]) == 2
    assert all(seconds >= 0 for seconds in review["time_spent_seconds"])
    json.dumps(review)


def test_failed_and_stopped_loops_are_outcomes_with_the_reason(backend, reviewer):
    expired = backend.start(request_for("expired.jpg"))
    stopped = backend.start(request_for("stopped.jpg"))
    reviewer.fail(expired.task_name, "Expired", "no worker took the task in time")
    backend.hook.stop_human_loop(stopped.task_name)

    first, second = backend.collect([expired, stopped])

    assert first.error == f"human loop {expired.task_name} Failed: Expired: no worker took the task in time"
    assert second.error == f"human loop {stopped.task_name} Stopped"
    assert first.answers == second.answers == ()
    assert first.review["task"] == expired.task_name


def test_malformed_or_missing_output_fails_that_image_only(aws, backend, reviewer):
    tickets = [backend.start(request_for(f"{name}.jpg")) for name in ("garbled", "missing", "fine")]
    box = {"label": "car", "left": 1, "top": 2, "width": 3, "height": 4}
    for ticket in tickets:
        reviewer.answer(ticket.task_name, [box])
    s3 = aws.client("s3")
    garbled_uri = backend.hook.describe_human_loop(tickets[0].task_name)["HumanLoopOutput"]["OutputS3Uri"]
    bucket, _, key = garbled_uri.removeprefix("s3://").partition("/")
    s3.put_object(Bucket=bucket, Key=key, Body=b"{not json")
    missing_uri = backend.hook.describe_human_loop(tickets[1].task_name)["HumanLoopOutput"]["OutputS3Uri"]
    bucket, _, key = missing_uri.removeprefix("s3://").partition("/")
    s3.delete_object(Bucket=bucket, Key=key)

    garbled, missing, fine = backend.collect(tickets)

    assert garbled.error.startswith(
        f"human loop {tickets[0].task_name} output {garbled_uri}: output.json is not JSON"
    )
    assert missing.error.startswith(f"human loop {tickets[1].task_name} output {missing_uri}: ")
    assert "NoSuchKey" in missing.error
    assert garbled.review["output_s3_uri"] == garbled_uri
    assert (fine.error, [answer.boxes for answer in fine.answers]) == (
        None,
        [(Box("car", 1, 2, 3, 4, None, "human"),)],
    )


def test_an_output_that_cannot_be_read_for_another_reason_is_raised_for_a_retry(aws, backend, reviewer):
    ticket = backend.start(request_for("lost.jpg"))
    reviewer.answer(ticket.task_name, [])
    uri = backend.hook.describe_human_loop(ticket.task_name)["HumanLoopOutput"]["OutputS3Uri"]
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3 = aws.client("s3")
    s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)

    with pytest.raises(ClientError, match="NoSuchBucket"):
        list(backend.collect([ticket]))


def test_a_loop_still_running_or_gone_is_an_outcome_with_an_error(backend, flow_definition):
    running = backend.start(request_for("running.jpg"))
    gone = ReviewTicket(human_loop_name(RUN_ID, "gone.jpg"), datetime.now(UTC).isoformat())

    still, missing = backend.collect([running, gone])

    assert still.error == f"human loop {running.task_name} is still InProgress; expected it to be finished"
    assert missing.error == f"human loop {gone.task_name} does not exist (deleted?)"


# Choosing a backend


def test_the_factory_builds_the_a2i_backend_on_the_given_connection():
    backend = get_review_backend(
        "a2i",
        flow_definition_arn="arn:aws:sagemaker:us-east-1:123456789012:flow-definition/f",
        aws_conn_id="x",
    )
    assert isinstance(backend, A2IReviewBackend)
    assert backend.hook.aws_conn_id == "x"
    hook = A2IRuntimeHook(aws_conn_id="y")
    assert get_review_backend("a2i", flow_definition_arn="arn:f", hook=hook).hook is hook


def test_label_studio_is_refused_until_it_lands():
    with pytest.raises(ValueError, match="review_backend 'labelstudio' is not available yet"):
        get_review_backend("labelstudio", flow_definition_arn=None)


def test_an_unknown_backend_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="review_backend 'mturk' is not one of a2i, labelstudio"):
        get_review_backend("mturk")
