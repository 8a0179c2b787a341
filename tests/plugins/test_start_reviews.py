"""StartReviewsOperator.execute against the stand-in: one human loop per image the gate sent to
review, however often the task runs or is retried; rows carry their tickets; the scope it returns
is what the wait for the reviews looks in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from botocore.exceptions import EndpointConnectionError
from support import (
    ACCEPTED,
    ACCOUNT_ID,
    CAR,
    CAR_DRAWN,
    INPUT_PREFIX,
    LABELS,
    PERSON_MAYBE,
    RUN_KEY,
    TO_REVIEW,
    image_row,
    loop_names,
    loop_of,
    make_plan,
    read_shards,
    stage_files,
    task_context,
    write_shards,
)

from hitl_detection.domain.a2i_task import build_input_content
from hitl_detection.domain.naming import human_loop_name_prefix
from hitl_detection.domain.review_tasks import ReviewTicket
from hitl_detection.operators.start_reviews import CLOCK_MARGIN, StartReviewsOperator
from hitl_detection.review.base import Connections
from hitl_detection.review.factory import build_review_backend, review_settings
from local_aws.stack import inject_fault

pytestmark = pytest.mark.stack

TO_START = ("a.jpg", "d.jpg", "e.jpg")


@pytest.fixture
def plan(flow_definition, bucket):
    """A run whose detections are two shards: a to review, b accepted, c failed | d and e to review."""
    plan = make_plan()
    write_shards(
        plan,
        "detections",
        [
            [
                image_row("a.jpg", TO_REVIEW),
                image_row("b.jpg", ACCEPTED),
                image_row("c.jpg", error="ImageError: not a JPEG"),
            ],
            [image_row("d.jpg", TO_REVIEW), image_row("e.jpg", TO_REVIEW)],
        ],
    )
    return plan


def start_reviews(plan, run_after: datetime | None = None) -> dict:
    operator = StartReviewsOperator(task_id="start_reviews", plan=plan.to_xcom())
    now = datetime.now(UTC)
    return operator.execute(task_context(dag_run=SimpleNamespace(run_after=run_after or now, start_date=now)))


def test_one_loop_per_image_to_review_with_one_call_each_and_rows_carrying_tickets(
    aws, plan, a2i_calls, reviewer
):
    result = start_reviews(plan)

    assert (result["started"], result["reused"]) == (3, 0)
    assert a2i_calls == {"StartHumanLoop": 3}
    assert loop_names(aws.client("sagemaker-a2i-runtime"), plan.config.flow_definition_arn) == sorted(
        loop_of(name) for name in TO_START
    )
    shards = read_shards(plan, "reviews")
    tickets = {row.key.removeprefix(INPUT_PREFIX): row.ticket for rows in shards.values() for row in rows}
    assert [len(rows) for rows in shards.values()] == [3, 2]
    assert tickets["b.jpg"] is tickets["c.jpg"] is None
    for name in TO_START:
        arn = f"arn:aws:sagemaker:{aws.region}:{ACCOUNT_ID}:human-loop/{loop_of(name)}"
        assert tickets[name] == ReviewTicket(loop_of(name), arn, reused=False)
    detections = [row for rows in read_shards(plan, "detections").values() for row in rows]
    assert [row.with_ticket(None) for rows in shards.values() for row in rows] == detections
    [task] = [loop["InputContent"] for loop in reviewer.loops() if loop["HumanLoopName"] == loop_of("a.jpg")]
    assert task["taskObject"] == image_row("a.jpg").s3_uri
    assert task["labels"] == list(LABELS)
    assert task["initialValue"] == [CAR.to_a2i()]
    assert [hint["label"] for hint in task["uncertain"]] == [PERSON_MAYBE.label]


def test_a_second_execute_after_the_shards_are_written_starts_nothing(aws, plan, a2i_calls):
    first = start_reviews(plan)
    written = read_shards(plan, "reviews")
    a2i_calls.clear()

    again = start_reviews(plan)

    assert (again["started"], again["reused"]) == (0, 3)
    assert again["scope"]["name_prefix"] == first["scope"]["name_prefix"]
    assert sum(a2i_calls.values()) == 0
    assert read_shards(plan, "reviews") == written
    assert len(loop_names(aws.client("sagemaker-a2i-runtime"), plan.config.flow_definition_arn)) == 3


def test_a_retry_finds_the_loops_an_earlier_try_started_for_a_shard_it_did_not_write(
    aws, plan, a2i_calls, on_botocore_event
):
    reachable = [False]

    def unreachable_for_e(params, **_):
        if not reachable[0] and loop_of("e.jpg").encode() in params["body"]:
            raise EndpointConnectionError(endpoint_url=aws.emulator_url)

    on_botocore_event("before-call.sagemaker-a2i-runtime.StartHumanLoop", unreachable_for_e)
    with pytest.raises(EndpointConnectionError):
        start_reviews(plan)
    a2i = aws.client("sagemaker-a2i-runtime")
    assert loop_names(a2i, plan.config.flow_definition_arn) == sorted([loop_of("a.jpg"), loop_of("d.jpg")])
    assert stage_files(plan).shards("reviews") == [0]
    reachable[0] = True
    a2i_calls.clear()

    result = start_reviews(plan)

    assert result["started"] + result["reused"] == 3
    assert a2i_calls == {"StartHumanLoop": 2}  # d.jpg and e.jpg: shard 0 was written already
    assert loop_names(a2i, plan.config.flow_definition_arn) == sorted(loop_of(name) for name in TO_START)
    [d, e] = read_shards(plan, "reviews")[1]
    assert d.ticket.name == loop_of("d.jpg")
    assert d.ticket.handle == a2i.describe_human_loop(HumanLoopName=loop_of("d.jpg"))["HumanLoopArn"]
    assert e.ticket.name == loop_of("e.jpg")


def test_a_loop_an_earlier_try_started_with_other_input_is_reused_not_started_again(aws, plan, a2i_calls):
    # What an earlier try sent for d.jpg before its detections were made again (by a cleared task).
    earlier = build_input_content(image_row("d.jpg").s3_uri, [CAR], LABELS)
    a2i = aws.client("sagemaker-a2i-runtime")
    a2i.start_human_loop(
        HumanLoopName=loop_of("d.jpg"),
        FlowDefinitionArn=plan.config.flow_definition_arn,
        HumanLoopInput={"InputContent": earlier},
    )
    a2i_calls.clear()

    result = start_reviews(plan)

    assert (result["started"], result["reused"]) == (2, 1)
    assert a2i_calls == {"StartHumanLoop": 3, "DescribeHumanLoop": 1}
    assert loop_names(a2i, plan.config.flow_definition_arn) == sorted(loop_of(name) for name in TO_START)
    [d, e] = read_shards(plan, "reviews")[1]
    assert (d.ticket.name, d.ticket.reused) == (loop_of("d.jpg"), True)
    assert e.ticket.reused is False


def test_a_burst_of_throttling_is_absorbed(aws, plan):
    inject_fault(aws, "StartHumanLoop", "ThrottlingException", count=2)

    result = start_reviews(plan)

    assert (result["started"], result["reused"]) == (3, 0)
    assert loop_names(aws.client("sagemaker-a2i-runtime"), plan.config.flow_definition_arn) == sorted(
        loop_of(name) for name in TO_START
    )


def test_the_returned_scope_is_where_the_backend_finds_the_loops(aws, plan, reviewer):
    run_after = datetime.now(UTC)
    result = start_reviews(plan, run_after=run_after)
    backend = build_review_backend(review_settings(plan.config), Connections())

    assert result["scope"] == {
        "flow_definition_arn": plan.config.flow_definition_arn,
        "name_prefix": human_loop_name_prefix(RUN_KEY),
        "created_after": (run_after - CLOCK_MARGIN).isoformat(),
    }
    waiting = backend.progress(result["scope"], expected=3)
    assert (waiting.finished, sorted(waiting.pending), waiting.done) == (
        0,
        sorted(loop_of(name) for name in TO_START),
        False,
    )
    reviewer.answer(loop_of("a.jpg"), [CAR_DRAWN])
    assert backend.progress(result["scope"], expected=3).finished == 1


def test_a_run_with_nothing_to_review_starts_nothing(aws, flow_definition, bucket, a2i_calls):
    plan = make_plan()
    rows = [image_row("b.jpg", ACCEPTED), image_row("c.jpg", error="ImageError: not a JPEG")]
    write_shards(plan, "detections", [rows])

    result = start_reviews(plan)

    assert (result["started"], result["reused"]) == (0, 0)
    assert sum(a2i_calls.values()) == 0
    assert read_shards(plan, "reviews") == {0: rows}


def test_a_run_made_for_a_later_time_still_finds_its_loops(aws, plan):
    """A run due tomorrow (a test, a backfill) started its loops now: the scope starts before now."""
    later = datetime.now(UTC) + timedelta(days=1)
    result = start_reviews(plan, run_after=later)
    backend = build_review_backend(review_settings(plan.config), Connections())

    assert datetime.fromisoformat(result["scope"]["created_after"]) < datetime.now(UTC)
    assert len(backend.progress(result["scope"], expected=3).pending) == 3
