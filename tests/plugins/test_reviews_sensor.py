"""ReviewsSensor and ReviewsTrigger: waiting for a run's human loops, deferred or rescheduled, in real
DAG runs against the stand-in; failed loops are data, a timeout names the loops still pending."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowSensorTimeout

from hitl_detection.boxes import Box
from hitl_detection.gating import GateDecision
from hitl_detection.jsonl_store import write_jsonl
from hitl_detection.naming import human_loop_name, human_loop_name_prefix
from hitl_detection.run_layout import RunLayout
from hitl_detection.sensors.reviews import CREATED_AFTER_MARGIN, ReviewsSensor, review_scope
from hitl_detection.triggers.reviews import ReviewsTrigger
from hitl_detection.work_rows import decision_row

pytestmark = pytest.mark.stack

RUN_ID = "manual__2026-11-25T14:00:00+00:00"
BUCKET = "hitl-results"
CAR = Box("car", 10, 20, 30, 40, 0.97)
TO_REVIEW = GateDecision(
    kept=(CAR,), accepted=(CAR,), uncertain=(Box("car", 200, 20, 30, 40, 0.5),), needs_review=True
)
ACCEPTED = GateDecision(kept=(CAR,), accepted=(CAR,))
BATCHES = {0: [("a.jpg", TO_REVIEW), ("b.jpg", TO_REVIEW)], 1: [("c.jpg", TO_REVIEW), ("d.jpg", ACCEPTED)]}
NAMES = {key: human_loop_name(RUN_ID, key) for key in ("a.jpg", "b.jpg", "c.jpg")}
BOX = {"label": "car", "left": 11, "top": 20, "width": 30, "height": 40}

DAG_SOURCE = """
import json
from datetime import datetime

from airflow.sdk import DAG

from hitl_detection.operators.start_reviews import StartReviewsOperator
from hitl_detection.sensors.reviews import ReviewsSensor

PLAN = json.loads(PLAN_JSON)
with DAG("test_wait_for_reviews", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    start = StartReviewsOperator.partial(task_id="start_reviews", plan=PLAN).expand(batch=[0, 1])
    ReviewsSensor(task_id="wait_for_reviews", plan=PLAN, started=start.output, **json.loads(SENSOR_JSON))
"""


def plan_for(flow_definition: str) -> dict:
    layout = RunLayout.for_run(BUCKET, "runs/", RUN_ID)
    return {
        "run_id": RUN_ID,
        "config": {"labels": ["car"], "review_backend": "a2i", "flow_definition_arn": flow_definition},
        "layout": {"bucket": layout.bucket, "folder": layout.folder},
    }


@pytest.fixture
def plan(aws, flow_definition):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    plan = plan_for(flow_definition)
    s3 = S3Hook(aws_conn_id="aws_default")
    s3.create_bucket(BUCKET)
    layout = RunLayout(**plan["layout"])
    for batch, rows in BATCHES.items():
        image_rows = (
            {"image_key": key, "image_s3_uri": f"s3://review-images/{key}", "image_size": None, "error": None}
            for key, _ in rows
        )
        decisions = [
            decision_row(image, decision) for image, (_, decision) in zip(image_rows, rows, strict=True)
        ]
        write_jsonl(s3, layout.bucket, layout.batch_key("decisions", batch), decisions)
    return plan


@pytest.fixture
def wait_dag(dag_from_source, plan):
    def make(**sensor_kwargs):
        source = (
            f"PLAN_JSON = {json.dumps(plan)!r}\nSENSOR_JSON = {json.dumps(sensor_kwargs)!r}\n{DAG_SOURCE}"
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


@pytest.fixture
def review_after_first_sweep(after_first_sweep, reviewer):
    """Answer a.jpg and c.jpg and let b.jpg expire, once the sensor has looked a first time."""

    def review():
        reviewer.answer(NAMES["a.jpg"], [BOX])
        reviewer.fail(NAMES["b.jpg"], "Expired", "nobody took it")
        reviewer.answer(NAMES["c.jpg"], [])

    after_first_sweep(review)


def sensor_result(dag_run) -> dict:
    return dag_run.get_task_instance("wait_for_reviews").xcom_pull(task_ids="wait_for_reviews")


def test_deferred_it_waits_in_the_trigger_until_every_loop_is_final(
    wait_dag, review_after_first_sweep, a2i_calls
):
    dag_run = wait_dag(poke_interval=0.2).test()

    assert dag_run.state == "success"
    assert sensor_result(dag_run) == {"finished": 3, "failed": [NAMES["b.jpg"]]}
    assert a2i_calls["ListHumanLoops"] >= 2  # the check in execute, then the trigger's polls
    assert a2i_calls["DescribeHumanLoop"] == 6  # by the start tasks only: 2 per loop, none while waiting


def test_rescheduled_it_frees_the_worker_between_pokes(wait_dag, review_after_first_sweep, a2i_calls):
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


def test_deferred_it_times_out_naming_the_loops_still_pending(wait_dag, on_botocore_event, reviewer, capfd):
    def answer_a_once_started(**_):
        if NAMES["a.jpg"] in reviewer.pending():
            reviewer.answer(NAMES["a.jpg"], [BOX])

    on_botocore_event("after-call.sagemaker-a2i-runtime.StartHumanLoop", answer_a_once_started)

    dag_run = wait_dag(poke_interval=0.2, timeout=1).test()

    assert dag_run.state == "failed"
    assert dag_run.get_task_instance("wait_for_reviews").state == "failed"
    log = capfd.readouterr().out
    assert "AirflowSensorTimeout" in log
    assert "XCom not found" not in log  # the start tasks' results are read in one slice
    assert "1 of 3 review tasks finished (0 failed); 2 pending: " in log
    assert NAMES["b.jpg"] in log
    assert NAMES["c.jpg"] in log


def started_results(aws, flow_definition: str, keys: list[str]) -> list[dict]:
    from hitl_detection.review.a2i import A2IReviewBackend
    from hitl_detection.review.base import ReviewRequest

    backend = A2IReviewBackend(flow_definition)
    tickets = [
        backend.start(
            ReviewRequest(human_loop_name(RUN_ID, key), f"s3://review-images/{key}", ("car",), (CAR,))
        )
        for key in keys
    ]
    earliest = min(ticket.created_at for ticket in tickets)
    return [{"batch": 0, "started": len(tickets), "reused": 0, "earliest_created": earliest}]


def test_poking_it_times_out_naming_the_loops_still_pending(aws, flow_definition):
    started = started_results(aws, flow_definition, ["x.jpg", "y.jpg"])
    sensor = ReviewsSensor(
        task_id="wait_for_reviews",
        plan=plan_for(flow_definition),
        started=started,
        deferrable=False,
        mode="poke",
        poke_interval=0.1,
        timeout=0.3,
    )

    with pytest.raises(AirflowSensorTimeout, match="0 of 2 review tasks finished") as raised:
        sensor.execute({})

    assert human_loop_name(RUN_ID, "x.jpg") in str(raised.value)
    assert human_loop_name(RUN_ID, "y.jpg") in str(raised.value)


def test_with_nothing_started_it_returns_at_once_without_a_call(a2i_calls):
    started = [{"batch": 0, "started": 0, "reused": 0, "earliest_created": None}] * 2
    sensor = ReviewsSensor(task_id="wait_for_reviews", plan=plan_for("arn:unused"), started=started)

    assert sensor.execute({}) == {"finished": 0, "failed": []}
    assert sum(a2i_calls.values()) == 0


def test_not_deferrable_means_reschedule_mode():
    plan = plan_for("arn:unused")
    assert ReviewsSensor(task_id="s", plan=plan, started=[], deferrable=False).mode == "reschedule"
    assert ReviewsSensor(task_id="s", plan=plan, started=[]).deferrable


def test_the_scope_counts_started_and_reused_and_starts_before_the_earliest_loop():
    started = [
        {"batch": 0, "started": 2, "reused": 1, "earliest_created": "2026-11-25T10:00:05+00:00"},
        {"batch": 1, "started": 0, "reused": 0, "earliest_created": None},
        {"batch": 2, "started": 0, "reused": 4, "earliest_created": "2026-11-25T09:59:00+00:00"},
    ]

    expected, scope = review_scope(plan_for("arn:flow"), started)

    assert expected == 7
    assert scope == {
        "flow_definition_arn": "arn:flow",
        "created_after": (datetime(2026, 11, 25, 9, 59, tzinfo=UTC) - CREATED_AFTER_MARGIN).isoformat(),
        "name_prefix": human_loop_name_prefix(RUN_ID),
    }


# The trigger and the events it sends back


def trigger_for(flow_definition: str, deadline: datetime, expected: int = 1) -> ReviewsTrigger:
    return ReviewsTrigger(
        review_backend="a2i",
        flow_definition_arn=flow_definition,
        scope={
            "flow_definition_arn": flow_definition,
            "created_after": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "name_prefix": human_loop_name_prefix(RUN_ID),
        },
        expected=expected,
        deadline=deadline.isoformat(),
        poll_interval=0.1,
    )


def first_event(trigger: ReviewsTrigger) -> dict:
    async def run():
        return await anext(trigger.run())

    return asyncio.run(run()).payload


def test_the_trigger_serializes_to_its_importable_path_and_back():
    trigger = trigger_for("arn:flow", datetime(2026, 11, 25, tzinfo=UTC))

    classpath, kwargs = trigger.serialize()

    assert classpath == "hitl_detection.triggers.reviews.ReviewsTrigger"
    assert ReviewsTrigger(**kwargs).serialize() == (classpath, kwargs)
    json.dumps(kwargs)


def test_the_trigger_reports_success_with_the_failed_loops(aws, flow_definition, reviewer):
    started_results(aws, flow_definition, ["x.jpg"])
    reviewer.fail(human_loop_name(RUN_ID, "x.jpg"))

    event = first_event(trigger_for(flow_definition, datetime.now(UTC) + timedelta(minutes=1)))

    assert event == {"status": "success", "finished": 1, "failed": [human_loop_name(RUN_ID, "x.jpg")]}


def test_the_trigger_turns_an_unexpected_error_into_an_error_event(aws):
    missing_flow = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/deleted-flow"

    event = first_event(trigger_for(missing_flow, datetime.now(UTC) + timedelta(minutes=1)))

    assert event["status"] == "error"
    assert event["message"].startswith("ResourceNotFoundException: ")
    assert "deleted-flow" in event["message"]


def sensor(plan: dict) -> ReviewsSensor:
    return ReviewsSensor(task_id="wait_for_reviews", plan=plan, started=[])


def test_execute_complete_returns_success_and_raises_the_rest():
    waiting = sensor(plan_for("arn:flow"))

    assert waiting.execute_complete({}, {"status": "success", "finished": 2, "failed": ["x"]}) == {
        "finished": 2,
        "failed": ["x"],
    }
    with pytest.raises(AirflowSensorTimeout, match="2 pending: x, y"):
        waiting.execute_complete(
            {}, {"status": "timeout", "message": "... 2 pending: x, y", "pending": ["x", "y"]}
        )
    with pytest.raises(
        AirflowException, match="Waiting for the reviews failed: ThrottlingException: slow down"
    ):
        waiting.execute_complete({}, {"status": "error", "message": "ThrottlingException: slow down"})
    with pytest.raises(AirflowException, match="event is None"):
        waiting.execute_complete({}, None)
