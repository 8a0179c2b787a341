"""ReviewsSensor and ReviewsTrigger: waiting for a run's review tasks, deferred or rescheduled, in
real DAG runs against the stand-in; failed loops are data, a timeout names the loops still pending,
and a passing fault of the service is waited out for as long as the deadline allows."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.exceptions import AirflowException
from support import (
    ACCEPTED,
    CAR_DRAWN,
    RUN_KEY,
    TO_REVIEW,
    image_row,
    loop_of,
    make_plan,
    task_context,
    write_shards,
)

from hitl_detection.domain.naming import human_loop_name_prefix
from hitl_detection.operators.start_reviews import StartReviewsOperator
from hitl_detection.review.base import Connections
from hitl_detection.review.factory import review_settings
from hitl_detection.sensors.reviews import ReviewsSensor
from hitl_detection.triggers.reviews import ReviewsTrigger
from local_aws.stack import inject_fault

pytestmark = pytest.mark.stack

NAMES = {name: loop_of(name) for name in ("a.jpg", "b.jpg", "c.jpg")}
ONE_ATTEMPT = {"retries": {"mode": "standard", "total_max_attempts": 1}}  # faults reach our code

DAG_SOURCE = """
import json
from datetime import datetime

from airflow.sdk import DAG

from hitl_detection.operators.start_reviews import StartReviewsOperator
from hitl_detection.sensors.reviews import ReviewsSensor

PLAN = json.loads(PLAN_JSON)
with DAG("test_wait_for_reviews", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    start = StartReviewsOperator(task_id="start_reviews", plan=PLAN)
    ReviewsSensor(task_id="wait_for_reviews", plan=PLAN, started=start.output, **json.loads(SENSOR_JSON))
"""


@pytest.fixture
def plan(flow_definition, bucket):
    """Detections in two shards: a and b to review | c to review, d accepted."""
    plan = make_plan()
    write_shards(
        plan,
        "detections",
        [
            [image_row("a.jpg", TO_REVIEW), image_row("b.jpg", TO_REVIEW)],
            [image_row("c.jpg", TO_REVIEW), image_row("d.jpg", ACCEPTED)],
        ],
    )
    return plan


@pytest.fixture
def wait_dag(dag_from_source, plan):
    def make(**sensor_kwargs):
        source = (
            f"PLAN_JSON = {json.dumps(plan.to_xcom())!r}\n"
            f"SENSOR_JSON = {json.dumps(sensor_kwargs)!r}\n{DAG_SOURCE}"
        )
        return dag_from_source("test_wait_for_reviews", source)

    return make


@pytest.fixture
def after_first_sweep(on_botocore_event):
    """Run an action in a thread once the sensor has looked a first time (its first ListHumanLoops)."""
    first_sweep = threading.Event()
    on_botocore_event("after-call.sagemaker-a2i-runtime.ListHumanLoops", lambda **_: first_sweep.set())
    threads = []

    def schedule(action):
        thread = threading.Thread(target=lambda: first_sweep.wait(60) and action(), daemon=True)
        thread.start()
        threads.append(thread)

    yield schedule
    for thread in threads:
        thread.join(60)


def review(reviewer) -> None:
    """Answer a.jpg and c.jpg and let b.jpg expire."""
    reviewer.answer(NAMES["a.jpg"], [CAR_DRAWN])
    reviewer.fail(NAMES["b.jpg"], "Expired", "nobody took it")
    reviewer.answer(NAMES["c.jpg"], [])


@pytest.fixture
def list_statuses(on_botocore_event) -> list[int]:
    """The HTTP status of every ListHumanLoops answer (every attempt, retried or not)."""
    statuses: list[int] = []
    on_botocore_event(
        "after-call.sagemaker-a2i-runtime.ListHumanLoops",
        lambda http_response, **_: statuses.append(http_response.status_code),
    )
    return statuses


def sensor_result(dag_run) -> dict:
    return dag_run.get_task_instance("wait_for_reviews").xcom_pull(task_ids="wait_for_reviews")


def test_deferred_it_waits_in_the_trigger_through_throttling_until_every_loop_is_final(
    aws, wait_dag, after_first_sweep, reviewer, a2i_calls, list_statuses
):
    def throttle_then_review():
        inject_fault(aws, "ListHumanLoops", "ThrottlingException", count=2)
        review(reviewer)

    after_first_sweep(throttle_then_review)

    dag_run = wait_dag(poke_interval=0.2, botocore_config=ONE_ATTEMPT).test()

    assert dag_run.state == "success"
    assert sensor_result(dag_run) == {"finished": 3, "failed": [NAMES["b.jpg"]]}
    assert list_statuses.count(429) == 2  # seen by the trigger itself, which checked again
    assert list_statuses[-1] == 200
    assert a2i_calls["StartHumanLoop"] == 3
    assert a2i_calls["DescribeHumanLoop"] == 0  # the wait sweeps; it never describes a loop


def test_rescheduled_it_frees_the_worker_between_pokes(wait_dag, after_first_sweep, reviewer, a2i_calls):
    after_first_sweep(lambda: review(reviewer))

    dag_run = wait_dag(deferrable=False, poke_interval=0.2).test()

    assert dag_run.state == "success"
    assert sensor_result(dag_run) == {"finished": 3, "failed": [NAMES["b.jpg"]]}
    task_instance = dag_run.get_task_instance("wait_for_reviews")
    assert task_instance.try_number == 1
    assert reschedules_of(task_instance) >= 1
    assert a2i_calls["ListHumanLoops"] >= 2


def reschedules_of(task_instance) -> int:
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        query = (
            select(func.count()).select_from(TaskReschedule).where(TaskReschedule.ti_id == task_instance.id)
        )
        return session.scalar(query)


def test_deferred_at_its_deadline_it_succeeds_naming_the_loops_still_pending(
    wait_dag, after_first_sweep, reviewer, capfd
):
    after_first_sweep(lambda: reviewer.answer(NAMES["a.jpg"], [CAR_DRAWN]))

    dag_run = wait_dag(poke_interval=0.2, timeout=1).test()

    assert dag_run.state == "success"  # collect_reviews publishes what was answered by then
    waited = dag_run.get_task_instance("wait_for_reviews")
    assert waited.state == "success"
    assert waited.xcom_pull(task_ids="wait_for_reviews")["deadline_reached"]["at"]
    log = capfd.readouterr().out
    assert "The wait reached its deadline" in log
    assert "1 of 3 review tasks finished (0 failed); 2 pending: " in log
    assert NAMES["b.jpg"] in log
    assert NAMES["c.jpg"] in log


def started(plan) -> dict:
    return StartReviewsOperator(task_id="start_reviews", plan=plan.to_xcom()).execute(task_context())


def test_poking_at_its_deadline_it_succeeds_naming_the_loops_still_pending(plan):
    sensor = ReviewsSensor(
        task_id="wait_for_reviews",
        plan=plan.to_xcom(),
        started=started(plan),
        deferrable=False,
        mode="poke",
        poke_interval=0.1,
        timeout=0.3,
    )

    result = sensor.execute(task_context())

    assert result["finished"] is None
    assert result["failed"] == []
    state = result["deadline_reached"]["state"]
    assert "0 of 3 review tasks finished" in state
    assert all(name in state for name in NAMES.values())


def test_with_nothing_started_it_returns_at_once_without_a_call(aws, a2i_calls):
    plan = make_plan()
    nothing = {"started": 0, "reused": 0, "scope": {"name_prefix": human_loop_name_prefix(RUN_KEY)}}
    sensor = ReviewsSensor(task_id="wait_for_reviews", plan=plan.to_xcom(), started=nothing)

    assert sensor.execute(task_context()) == {"finished": 0, "failed": []}
    assert sum(a2i_calls.values()) == 0


def test_reviews_finished_before_the_wait_need_no_trigger(plan, reviewer):
    result = started(plan)
    review(reviewer)
    sensor = ReviewsSensor(task_id="wait_for_reviews", plan=plan.to_xcom(), started=result)

    assert sensor.execute(task_context()) == {"finished": 3, "failed": [NAMES["b.jpg"]]}


def test_not_deferrable_means_reschedule_mode():
    plan = make_plan().to_xcom()
    assert ReviewsSensor(task_id="s", plan=plan, started={}, deferrable=False).mode == "reschedule"
    assert ReviewsSensor(task_id="s", plan=plan, started={}).deferrable


def test_execute_complete_returns_success_and_the_deadline_and_raises_errors():
    waiting = ReviewsSensor(task_id="wait_for_reviews", plan=make_plan().to_xcom(), started={})

    assert waiting.execute_complete({}, {"status": "success", "finished": 2, "failed": ["x"]}) == {
        "finished": 2,
        "failed": ["x"],
    }
    timeout = {"status": "timeout", "message": "... 2 pending: x, y", "deadline": "2026-12-04T00:00:00+00:00"}
    assert waiting.execute_complete({}, {**timeout, "failed": ["z"], "pending": ["x", "y"]}) == {
        "finished": None,
        "failed": ["z"],
        "deadline_reached": {"at": "2026-12-04T00:00:00+00:00", "state": "... 2 pending: x, y"},
    }
    with pytest.raises(AirflowException, match="Waiting for the reviews failed: AccessDeniedException: no"):
        waiting.execute_complete({}, {"status": "error", "message": "AccessDeniedException: no"})
    with pytest.raises(AirflowException, match="event is None"):
        waiting.execute_complete({}, None)


# The trigger and the events it sends back


def trigger_for(
    plan, scope: dict, deadline: datetime, expected: int = 3, missing_after: datetime | None = None
) -> ReviewsTrigger:
    return ReviewsTrigger(
        review=review_settings(plan.config),
        connections=Connections(botocore_config=ONE_ATTEMPT).to_json(),
        plan=plan.to_xcom(),
        scope=scope,
        expected=expected,
        deadline=deadline.isoformat(),
        missing_after=(missing_after or datetime.now(UTC)).isoformat(),
        poll_interval=0.05,
    )


def first_event(trigger: ReviewsTrigger) -> dict:
    async def run():
        return await anext(trigger.run())

    return asyncio.run(run()).payload


def in_a_minute() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=1)


def test_the_trigger_serializes_to_its_importable_path_and_back():
    plan = make_plan()
    trigger = trigger_for(plan, {"name_prefix": "p-"}, datetime(2026, 11, 25, tzinfo=UTC))

    classpath, kwargs = trigger.serialize()

    assert classpath == "hitl_detection.triggers.reviews.ReviewsTrigger"
    assert ReviewsTrigger(**kwargs).serialize() == (classpath, kwargs)
    json.dumps(kwargs)


@pytest.mark.parametrize(
    ("error", "status"), [("ThrottlingException", 429), ("InternalServerException", 500)]
)
def test_the_trigger_checks_again_after_a_passing_fault(aws, plan, reviewer, list_statuses, error, status):
    scope = started(plan)["scope"]
    review(reviewer)
    inject_fault(aws, "ListHumanLoops", error, status=status, count=3)

    event = first_event(trigger_for(plan, scope, in_a_minute()))

    assert event == {"status": "success", "finished": 3, "failed": [NAMES["b.jpg"]]}
    assert list_statuses == [status] * 3 + [200]


def test_the_trigger_times_out_when_the_fault_outlasts_its_deadline(aws, plan, list_statuses):
    scope = started(plan)["scope"]
    deadline = datetime.now(UTC) + timedelta(seconds=0.5)
    inject_fault(aws, "ListHumanLoops", "ThrottlingException", count=1000)

    event = first_event(trigger_for(plan, scope, deadline))

    assert event == {
        "status": "timeout",
        "message": f"Reviews not finished by {deadline.isoformat()}: no check succeeded",
        "deadline": deadline.isoformat(),
        "failed": [],
        "pending": [],
    }
    assert len(list_statuses) > 1
    assert set(list_statuses) == {429}


def test_the_trigger_times_out_naming_the_loops_still_pending(plan, reviewer):
    scope = started(plan)["scope"]
    reviewer.answer(NAMES["a.jpg"], [CAR_DRAWN])

    event = first_event(trigger_for(plan, scope, datetime.now(UTC) + timedelta(seconds=0.2)))

    assert event["status"] == "timeout"
    assert "1 of 3 review tasks finished (0 failed); 2 pending: " in event["message"]
    assert sorted(event["pending"]) == sorted([NAMES["b.jpg"], NAMES["c.jpg"]])


def test_the_trigger_fails_at_once_on_an_error_that_will_not_pass(aws, plan, list_statuses):
    scope = started(plan)["scope"]
    inject_fault(
        aws, "ListHumanLoops", "AccessDeniedException", status=403, message="not authorized", count=1000
    )

    event = first_event(trigger_for(plan, scope, in_a_minute()))

    assert event["status"] == "error"
    assert event["message"].startswith("ClientError: An error occurred (AccessDeniedException) ")
    assert event["message"].endswith(": not authorized")
    assert list_statuses == [403]


def test_the_trigger_fails_at_once_when_the_flow_definition_is_gone(aws, plan):
    scope = {**started(plan)["scope"], "flow_definition_arn": plan.config.flow_definition_arn + "-deleted"}

    event = first_event(trigger_for(plan, scope, in_a_minute()))

    assert event["status"] == "error"
    assert event["message"].startswith("ResourceNotFoundException: ")
    assert "review-boxes-deleted" in event["message"]


# A loop someone stopped and deleted: gone from every sweep, it ends as a failed review


def delete_loop(aws, name: str) -> None:
    a2i = aws.client("sagemaker-a2i-runtime")
    a2i.stop_human_loop(HumanLoopName=name)
    a2i.delete_human_loop(HumanLoopName=name)


def answer_a_and_c_delete_b(aws, reviewer) -> None:
    reviewer.answer(NAMES["a.jpg"], [CAR_DRAWN])
    delete_loop(aws, NAMES["b.jpg"])
    reviewer.answer(NAMES["c.jpg"], [])


def test_deferred_a_deleted_loop_ends_the_wait_as_a_failed_review(
    aws, wait_dag, after_first_sweep, reviewer, a2i_calls
):
    after_first_sweep(lambda: answer_a_and_c_delete_b(aws, reviewer))

    dag_run = wait_dag(poke_interval=0.2, timeout=10, missing_grace=0).test()

    assert dag_run.state == "success"
    assert sensor_result(dag_run) == {"finished": 3, "failed": [NAMES["b.jpg"]]}
    # Only the loop missing from the sweep was described, and only once.
    assert a2i_calls["DescribeHumanLoop"] == 1


def test_rescheduled_a_deleted_loop_ends_the_wait_as_a_failed_review(
    aws, wait_dag, after_first_sweep, reviewer
):
    after_first_sweep(lambda: answer_a_and_c_delete_b(aws, reviewer))

    dag_run = wait_dag(deferrable=False, poke_interval=0.2, timeout=10, missing_grace=0).test()

    assert dag_run.state == "success"
    assert sensor_result(dag_run) == {"finished": 3, "failed": [NAMES["b.jpg"]]}


def test_the_trigger_looks_for_a_missing_loop_only_after_the_grace(aws, plan, reviewer, a2i_calls):
    scope = started(plan)["scope"]
    answer_a_and_c_delete_b(aws, reviewer)
    deadline = datetime.now(UTC) + timedelta(seconds=0.5)

    event = first_event(trigger_for(plan, scope, deadline, missing_after=in_a_minute()))

    # Within the grace a listing may lag behind a start: the loop is waited for, never described.
    assert event["status"] == "timeout"
    assert (
        "2 of 3 review tasks finished (0 failed); 1 pending: none listed yet and 1 more" in event["message"]
    )
    assert a2i_calls["DescribeHumanLoop"] == 0


def test_the_trigger_ends_with_a_deleted_loop_failed_and_describes_only_the_missing_one(
    aws, plan, reviewer, a2i_calls
):
    scope = started(plan)["scope"]
    answer_a_and_c_delete_b(aws, reviewer)

    event = first_event(trigger_for(plan, scope, in_a_minute()))

    assert event == {"status": "success", "finished": 3, "failed": [NAMES["b.jpg"]]}
    assert a2i_calls["DescribeHumanLoop"] == 1
    assert a2i_calls["ListHumanLoops"] == 2  # the poll's sweep, and the look for missing loops


def test_a_loop_missing_from_the_listing_but_still_there_is_waited_for(
    aws, plan, reviewer, on_botocore_event
):
    scope = started(plan)["scope"]
    reviewer.answer(NAMES["a.jpg"], [CAR_DRAWN])
    reviewer.answer(NAMES["c.jpg"], [])

    # A listing that lags behind: b.jpg's loop exists (and is pending) but is not listed.
    def hide_b(parsed, **_):
        parsed["HumanLoopSummaries"] = [
            loop for loop in parsed.get("HumanLoopSummaries", []) if loop["HumanLoopName"] != NAMES["b.jpg"]
        ]

    on_botocore_event("after-call.sagemaker-a2i-runtime.ListHumanLoops", hide_b)
    deadline = datetime.now(UTC) + timedelta(seconds=0.5)

    event = first_event(trigger_for(plan, scope, deadline))

    assert event["status"] == "timeout"
    assert "2 of 3 review tasks finished (0 failed); 1 pending" in event["message"]
