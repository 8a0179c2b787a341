"""A2IReviewBackend against the stand-in, through the review interface: check the flow definition,
start one loop per name, count a run's loops in one sweep, collect answers, and turn failed loops
and unreadable output into per-image errors. And the factory that builds it."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from support import (
    ACCOUNT_ID,
    CAR,
    CAR_DRAWN,
    FLOW_DEFINITION_NAME,
    LABELS,
    OTHER_RUN_ID,
    PERSON_MAYBE,
    RUN_ID,
    loop_names,
    make_plan,
    rewrite_answers,
)

from hitl_detection.domain.a2i_task import build_input_content
from hitl_detection.domain.boxes import Box
from hitl_detection.domain.naming import human_loop_name, human_loop_name_prefix
from hitl_detection.domain.review_tasks import ReviewRequest, ReviewTicket
from hitl_detection.review.a2i import PENDING_SAMPLE_SIZE, A2IReviewBackend
from hitl_detection.review.base import Connections, ReviewSetupError
from hitl_detection.review.factory import build_review_backend, review_settings
from local_aws.stack import inject_fault

pytestmark = pytest.mark.stack


def request_for(
    image_key: str, run_key: str = RUN_ID, initial=(CAR,), uncertain=(PERSON_MAYBE,)
) -> ReviewRequest:
    return ReviewRequest(
        run_key=run_key,
        image_key=image_key,
        image_s3_uri=f"s3://review-images/{image_key}",
        image_size=(640, 480),
        labels=LABELS,
        initial_boxes=tuple(initial),
        uncertain_boxes=tuple(uncertain),
    )


def backend_for(flow_definition: str) -> A2IReviewBackend:
    return A2IReviewBackend({"flow_definition_arn": flow_definition}, Connections())


@pytest.fixture
def backend(flow_definition) -> A2IReviewBackend:
    return backend_for(flow_definition)


def scope_for(
    backend: A2IReviewBackend, run_key: str = RUN_ID, started_after: datetime | None = None
) -> dict:
    return backend.progress_scope(run_key, started_after or datetime.now(UTC) - timedelta(minutes=5))


def output_location(aws, loop_name: str) -> tuple[str, str]:
    described = aws.client("sagemaker-a2i-runtime").describe_human_loop(HumanLoopName=loop_name)
    bucket, _, key = described["HumanLoopOutput"]["OutputS3Uri"].removeprefix("s3://").partition("/")
    return bucket, key


# Checking the settings before a run spends anything


def test_an_active_flow_definition_of_this_account_and_region_passes(backend):
    backend.check(LABELS)


def test_a_flow_definition_elsewhere_with_the_same_name_is_refused(flow_definition):
    elsewhere = f"arn:aws:sagemaker:eu-west-1:999999999999:flow-definition/{FLOW_DEFINITION_NAME}"

    with pytest.raises(ReviewSetupError, match=f"{elsewhere} does not exist here") as raised:
        backend_for(elsewhere).check(LABELS)

    assert f"the flow definition of that name is {flow_definition}" in str(raised.value)


def test_a_flow_definition_that_is_not_active_is_refused(backend, flow_definition, on_botocore_event):
    rewrite_answers(
        on_botocore_event, "sagemaker", "DescribeFlowDefinition", FlowDefinitionStatus="Initializing"
    )

    with pytest.raises(ReviewSetupError, match=f"{flow_definition} is Initializing; expected Active"):
        backend_for(flow_definition).check(LABELS)


def test_a_flow_definition_that_does_not_exist_is_refused(aws):
    missing = f"arn:aws:sagemaker:{aws.region}:{ACCOUNT_ID}:flow-definition/deleted-flow"

    with pytest.raises(ReviewSetupError, match=f"flow_definition_arn {missing}: .*ResourceNotFound"):
        backend_for(missing).check(LABELS)


def test_the_backend_needs_a_flow_definition():
    with pytest.raises(ValueError, match="the a2i review backend needs a flow_definition_arn; got none"):
        A2IReviewBackend({"flow_definition_arn": None}, Connections())


# Starting


def test_a_start_is_one_call_and_names_the_loop_after_the_run_and_image(aws, backend, reviewer, a2i_calls):
    request = request_for("street/a.jpg")

    ticket = backend.start(request)

    name = human_loop_name(RUN_ID, "street/a.jpg")
    assert ticket == ReviewTicket(name, f"arn:aws:sagemaker:{aws.region}:{ACCOUNT_ID}:human-loop/{name}")
    assert a2i_calls == {"StartHumanLoop": 1}
    [task] = [loop["InputContent"] for loop in reviewer.loops()]
    assert task == {
        "taskObject": "s3://review-images/street/a.jpg",
        "initialValue": [CAR.to_a2i()],
        "labels": list(LABELS),
        "uncertain": [{**PERSON_MAYBE.to_a2i(), "score": PERSON_MAYBE.score}],
    }


def test_starting_the_same_request_again_keeps_one_loop(aws, backend, flow_definition):
    request = request_for("street/a.jpg")

    first = backend.start(request)
    second = backend.start(request)

    assert (second.name, second.handle) == (first.name, first.handle)
    assert loop_names(aws.client("sagemaker-a2i-runtime"), flow_definition) == [first.name]


def test_a_loop_an_earlier_try_started_with_other_input_is_described_and_reused(
    aws, backend, flow_definition, a2i_calls
):
    request = request_for("street/b.jpg")
    earlier = build_input_content(request.image_s3_uri, [CAR], LABELS)  # without the uncertain box
    backend.loops.start_human_loop(human_loop_name(RUN_ID, "street/b.jpg"), flow_definition, earlier)
    a2i_calls.clear()

    ticket = backend.start(request)

    assert (ticket.name, ticket.reused) == (human_loop_name(RUN_ID, "street/b.jpg"), True)
    assert ticket.handle.endswith(f":human-loop/{ticket.name}")
    assert a2i_calls == {"StartHumanLoop": 1, "DescribeHumanLoop": 1}
    assert loop_names(aws.client("sagemaker-a2i-runtime"), flow_definition) == [ticket.name]


def test_a_loop_of_the_name_under_another_flow_definition_is_refused(make_flow_definition):
    first = backend_for(make_flow_definition("first-flow"))
    second_flow = make_flow_definition("second-flow")
    request = request_for("street/d.jpg")
    first.start(request)

    with pytest.raises(
        ValueError,
        match=f"{human_loop_name(RUN_ID, 'street/d.jpg')} exists under flow definition "
        f"{first.flow_definition_arn}, not {second_flow}: a retried or cleared run must keep",
    ):
        backend_for(second_flow).start(request_for("street/d.jpg", initial=()))


# Progress


def test_progress_counts_the_runs_loops_in_one_paged_sweep(backend, flow_definition, reviewer, a2i_calls):
    names = [human_loop_name(RUN_ID, f"img-{number:03d}.jpg") for number in range(PENDING_SAMPLE_SIZE + 55)]
    content = build_input_content("s3://review-images/img.jpg", [CAR], LABELS)
    for name in names:
        backend.loops.start_human_loop(name, flow_definition, content)
    for number in range(3):  # another run's loops under the same flow definition
        backend.loops.start_human_loop(
            human_loop_name(OTHER_RUN_ID, f"{number}.jpg"), flow_definition, content
        )
    for name in names[:3]:
        reviewer.answer(name, [CAR_DRAWN])
    reviewer.fail(names[3])
    backend.loops.stop_human_loop(names[4])
    a2i_calls.clear()

    progress = backend.progress(scope_for(backend), expected=len(names))

    assert a2i_calls == {"ListHumanLoops": 2}  # 108 loops, 100 a page
    assert (progress.expected, progress.finished, progress.done) == (len(names), 5, False)
    assert (progress.listed, progress.unlisted) == (len(names), 0)  # not the other run's
    assert set(progress.failed) == {names[3], names[4]}
    assert progress.pending == tuple(names[5 : 5 + PENDING_SAMPLE_SIZE])
    assert progress.describe().startswith(
        f"5 of {len(names)} review tasks finished (2 failed); 100 pending: "
    )
    assert progress.describe().endswith(" and 50 more")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda name: reviewer.answer(name, []), names[5:]))
    done = backend.progress(scope_for(backend), expected=len(names))
    assert (done.finished, done.done, done.pending) == (len(names), True, ())


def test_deleted_loops_are_found_by_one_sweep_and_a_describe_per_loop_it_did_not_list(
    aws, backend, reviewer, a2i_calls
):
    tickets = [backend.start(request_for(f"{key}.jpg")) for key in ("kept", "answered", "deleted", "never")]
    reviewer.answer(tickets[1].name, [CAR_DRAWN])
    a2i = aws.client("sagemaker-a2i-runtime")
    a2i.stop_human_loop(HumanLoopName=tickets[2].name)
    a2i.delete_human_loop(HumanLoopName=tickets[2].name)
    never_started = ReviewTicket(human_loop_name(RUN_ID, "never.jpg") + "x")
    a2i_calls.clear()

    progress = backend.progress(scope_for(backend), expected=5)
    deleted = backend.deleted(scope_for(backend), [*tickets, never_started])

    assert (progress.listed, progress.unlisted, progress.finished) == (3, 2, 1)
    assert deleted == [tickets[2].name, never_started.name]
    assert a2i_calls == {"ListHumanLoops": 2, "DescribeHumanLoop": 2}
    assert progress.with_deleted(
        deleted
    ).describe() == "3 of 5 review tasks finished (2 failed); 2 pending: " + (
        ", ".join(sorted((tickets[0].name, tickets[3].name)))
    )


def test_progress_sees_only_loops_created_after_the_scope_starts(backend):
    backend.start(request_for("old.jpg"))

    progress = backend.progress(scope_for(backend, started_after=datetime.now(UTC) + timedelta(hours=1)), 1)

    assert (progress.finished, progress.pending, progress.done) == (0, (), False)


def test_the_progress_scope_is_json_with_the_runs_name_prefix_in_utc(backend, flow_definition):
    started_after = datetime(2026, 11, 25, 11, 0, tzinfo=timezone(timedelta(hours=1)))

    scope = backend.progress_scope(RUN_ID, started_after)

    assert scope == {
        "flow_definition_arn": flow_definition,
        "name_prefix": human_loop_name_prefix(RUN_ID),
        "created_after": "2026-11-25T10:00:00+00:00",
    }
    assert json.loads(json.dumps(scope)) == scope


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (ClientError({"Error": {"Code": "ThrottlingException"}}, "ListHumanLoops"), True),
        (
            ClientError(
                {"Error": {"Code": "InternalServerException"}, "ResponseMetadata": {"HTTPStatusCode": 500}},
                "ListHumanLoops",
            ),
            True,
        ),
        (EndpointConnectionError(endpoint_url="http://a2i.invalid"), True),
        (ClientError({"Error": {"Code": "AccessDeniedException"}}, "ListHumanLoops"), False),
        (ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "ListHumanLoops"), False),
        (ValueError("a bug"), False),
    ],
)
def test_throttling_outages_and_broken_connections_are_transient(backend, error, transient):
    assert backend.is_transient(error) is transient


# Collecting


def test_a_completed_loop_gives_every_reviewers_boxes_and_the_review_record(
    aws, make_flow_definition, reviewer, a2i_calls
):
    backend = backend_for(make_flow_definition("two-reviewers", task_count=2))
    ticket = backend.start(request_for("street/e.jpg"))
    reviewer.answer(ticket.name, [CAR_DRAWN], "ann")
    reviewer.answer(ticket.name, [], "bob")
    a2i_calls.clear()

    outcome = backend.collect(ticket)

    assert a2i_calls == {"DescribeHumanLoop": 1}
    assert (outcome.task_name, outcome.error, outcome.failed) == (ticket.name, None, False)
    assert [answer.worker_id for answer in outcome.answers] == ["ann", "bob"]
    assert outcome.answers[0].boxes == (Box("car", 11, 20, 30, 40, None, "human"),)
    assert outcome.answers[1].boxes == ()
    review = outcome.review
    assert (review["backend"], review["task"], review["loop_arn"]) == ("a2i", ticket.name, ticket.handle)
    assert review["created_at"].endswith("+00:00")
    assert review["output_s3_uri"].endswith(f"/{ticket.name}/output.json")
    assert review["reviewers"] == ["ann", "bob"]
    assert len(review["submitted_at"]) == 2
    assert all(seconds >= 0 for seconds in review["time_spent_seconds"])
    json.dumps(review)


def test_failed_and_stopped_loops_are_outcomes_with_the_reason(backend, reviewer):
    expired = backend.start(request_for("expired.jpg"))
    stopped = backend.start(request_for("stopped.jpg"))
    reviewer.fail(expired.name, "Expired", "no worker took the task in time")
    backend.loops.stop_human_loop(stopped.name)

    first, second = backend.collect(expired), backend.collect(stopped)

    assert first.error == f"human loop {expired.name} Failed: Expired: no worker took the task in time"
    assert second.error == f"human loop {stopped.name} Stopped"
    assert first.answers == second.answers == ()
    assert first.review["task"] == expired.name


def test_malformed_or_missing_output_fails_that_image_only(aws, backend, reviewer):
    garbled, missing, fine = (
        backend.start(request_for(f"{name}.jpg")) for name in ("garbled", "missing", "fine")
    )
    for ticket in (garbled, missing, fine):
        reviewer.answer(ticket.name, [CAR_DRAWN])
    s3 = aws.client("s3")
    s3.put_object(
        Bucket=output_location(aws, garbled.name)[0], Key=output_location(aws, garbled.name)[1], Body=b"{not"
    )
    s3.delete_object(Bucket=output_location(aws, missing.name)[0], Key=output_location(aws, missing.name)[1])

    outcomes = [backend.collect(ticket) for ticket in (garbled, missing, fine)]

    bucket, key = output_location(aws, garbled.name)
    assert outcomes[0].error.startswith(
        f"human loop {garbled.name} output s3://{bucket}/{key}: output.json is not JSON"
    )
    assert outcomes[0].review["output_s3_uri"] == f"s3://{bucket}/{key}"
    assert outcomes[1].error.startswith(f"human loop {missing.name} output s3://")
    assert "NoSuchKey" in outcomes[1].error
    assert (outcomes[2].error, [answer.boxes for answer in outcomes[2].answers]) == (
        None,
        [(Box("car", 11, 20, 30, 40, None, "human"),)],
    )


def test_a_loop_still_running_or_gone_is_an_outcome_with_an_error(backend):
    running = backend.start(request_for("running.jpg"))
    gone = ReviewTicket(human_loop_name(RUN_ID, "gone.jpg"))

    still, missing = backend.collect(running), backend.collect(gone)

    assert still.error == f"human loop {running.name} is still InProgress; expected it to be finished"
    assert missing.error == (
        f"human loop {gone.name} was deleted before its answers were collected: it no longer exists"
    )


def test_a_throttled_describe_is_retried_not_turned_into_a_failed_review(aws, backend, reviewer):
    ticket = backend.start(request_for("busy.jpg"))
    reviewer.answer(ticket.name, [CAR_DRAWN])
    inject_fault(aws, "DescribeHumanLoop", "ThrottlingException", count=1)

    assert backend.collect(ticket).error is None


# Choosing a backend


def test_the_factory_builds_the_a2i_backend_with_the_tasks_connection_settings():
    plan = make_plan()
    connections = Connections(
        aws_conn_id="reviews", region_name="eu-west-1", botocore_config={"retries": {"max_attempts": 2}}
    )

    review = review_settings(plan.config)
    backend = build_review_backend(
        json.loads(json.dumps(review)), Connections.from_json(connections.to_json())
    )

    assert review == {"backend": "a2i", "settings": {"flow_definition_arn": plan.config.flow_definition_arn}}
    assert isinstance(backend, A2IReviewBackend)
    for hook in (backend.loops, backend.s3):
        assert (hook.aws_conn_id, hook.region_name) == ("reviews", "eu-west-1")
        assert hook.config.retries["max_attempts"] == 2


def test_an_unknown_backend_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="review_backend 'mturk' is not one of a2i"):
        build_review_backend({"backend": "mturk", "settings": {}}, Connections())
