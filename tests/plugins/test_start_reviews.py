"""StartReviewsOperator in real DAG runs against the stand-in: one loop per image to review, however
often the task runs, crashes or is retried."""

from __future__ import annotations

import json

import pytest

from hitl_detection.boxes import Box
from hitl_detection.gating import GateDecision
from hitl_detection.jsonl_store import read_jsonl, write_jsonl
from hitl_detection.naming import human_loop_name
from hitl_detection.operators.start_reviews import StartReviewsOperator
from hitl_detection.run_layout import RunLayout
from hitl_detection.work_rows import decision_row
from local_aws.stack import inject_fault

pytestmark = pytest.mark.stack

RUN_ID = "manual__2026-11-25T12:00:00+00:00"
BUCKET = "hitl-results"
LABELS = ["car", "person"]
CAR = Box("car", 10, 20, 30, 40, 0.97)
MAYBE_PERSON = Box("person", 100, 50, 20, 60, 0.41)
TO_REVIEW = GateDecision(
    kept=(CAR, MAYBE_PERSON),
    accepted=(CAR,),
    uncertain=(MAYBE_PERSON,),
    needs_review=True,
    reasons=("person 0.41",),
)
ACCEPTED = GateDecision(kept=(CAR,), accepted=(CAR,))


def plan_for(flow_definition: str, review_backend: str = "a2i") -> dict:
    layout = RunLayout.for_run(BUCKET, "runs/", RUN_ID)
    return {
        "run_id": RUN_ID,
        "config": {
            "labels": LABELS,
            "review_backend": review_backend,
            "flow_definition_arn": flow_definition,
        },
        "layout": {"bucket": layout.bucket, "folder": layout.folder},
    }


def write_decisions(s3_hook, plan: dict, batch: int, rows: list[tuple[str, GateDecision | None]]) -> None:
    layout = RunLayout(**plan["layout"])
    decision_rows = [
        decision_row(
            {
                "image_key": key,
                "image_s3_uri": f"s3://review-images/{key}",
                "image_size": None if decision is None else {"width": 640, "height": 480},
                "error": "the image is not a JPEG or PNG" if decision is None else None,
            },
            decision,
        )
        for key, decision in rows
    ]
    write_jsonl(s3_hook, layout.bucket, layout.batch_key("decisions", batch), decision_rows)


@pytest.fixture
def s3_hook(aws):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id="aws_default")
    hook.create_bucket(BUCKET)
    return hook


DAG_SOURCE = """
import json
from datetime import datetime

from airflow.sdk import DAG

from hitl_detection.operators.start_reviews import StartReviewsOperator

with DAG("test_start_reviews", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    StartReviewsOperator(task_id="start_reviews", batch=0, **json.loads(ARGUMENTS))
"""


@pytest.fixture
def start_reviews_dag(dag_from_source):
    def make(plan: dict, **operator_kwargs):
        arguments = json.dumps({"plan": plan, **operator_kwargs})
        return dag_from_source("test_start_reviews", f"ARGUMENTS = {arguments!r}\n{DAG_SOURCE}")

    return make


def loop_names(aws, flow_definition: str) -> list[str]:
    a2i = aws.client("sagemaker-a2i-runtime")
    pages = a2i.get_paginator("list_human_loops").paginate(FlowDefinitionArn=flow_definition)
    return [loop["HumanLoopName"] for page in pages for loop in page["HumanLoopSummaries"]]


def returned(dag_run) -> dict:
    return dag_run.get_task_instance("start_reviews").xcom_pull(task_ids="start_reviews")


def test_one_loop_per_image_to_review_and_none_more_when_run_again(
    aws, flow_definition, s3_hook, reviewer, start_reviews_dag
):
    plan = plan_for(flow_definition)
    write_decisions(
        s3_hook, plan, 0, [("a.jpg", TO_REVIEW), ("b.jpg", ACCEPTED), ("c.jpg", None), ("d.jpg", TO_REVIEW)]
    )
    dag = start_reviews_dag(plan)

    first = dag.test()

    assert first.state == "success"
    expected_names = [human_loop_name(RUN_ID, key) for key in ("a.jpg", "d.jpg")]
    assert sorted(loop_names(aws, flow_definition)) == sorted(expected_names)
    result = returned(first)
    assert (result["batch"], result["started"], result["reused"]) == (0, 2, 0)
    layout = RunLayout(**plan["layout"])
    tickets = list(read_jsonl(s3_hook, layout.bucket, layout.batch_key("reviews", 0)))
    assert [(row["image_key"], row["ticket"]["task_name"]) for row in tickets] == [
        ("a.jpg", expected_names[0]),
        ("d.jpg", expected_names[1]),
    ]
    assert result["earliest_created"] == min(row["ticket"]["created_at"] for row in tickets)
    task = next(
        loop["InputContent"] for loop in reviewer.loops() if loop["HumanLoopName"] == expected_names[0]
    )
    assert task["initialValue"] == [CAR.to_a2i()]
    assert [hint["label"] for hint in task["uncertain"]] == ["person"]
    assert task["labels"] == LABELS

    again = dag.test()

    assert again.state == "success"
    assert (returned(again)["started"], returned(again)["reused"]) == (0, 2)
    assert returned(again)["earliest_created"] == result["earliest_created"]
    assert sorted(loop_names(aws, flow_definition)) == sorted(expected_names)


def test_a_retry_after_a_crash_midway_starts_no_second_loop(
    aws, flow_definition, s3_hook, on_botocore_event, start_reviews_dag
):
    plan = plan_for(flow_definition)
    keys = [f"image-{number}.jpg" for number in range(5)]
    write_decisions(s3_hook, plan, 0, [(key, TO_REVIEW) for key in keys])
    started = []

    def crash_after_two_loops(http_response, **_):
        if http_response.status_code == 200:
            started.append(1)
            if len(started) == 2:  # StartHumanLoop now answers 500 until the retry budget is spent
                inject_fault(aws, "StartHumanLoop", "InternalServerException", status=500, count=2)

    on_botocore_event("after-call.sagemaker-a2i-runtime.StartHumanLoop", crash_after_two_loops)
    dag = start_reviews_dag(
        plan,
        retries=1,
        retry_delay=0,
        botocore_config={"retries": {"mode": "standard", "total_max_attempts": 2}},
    )

    dag_run = dag.test()

    assert dag_run.state == "success"
    task_instance = dag_run.get_task_instance("start_reviews")
    assert task_instance.try_number == 2
    assert (returned(dag_run)["started"], returned(dag_run)["reused"]) == (3, 2)
    assert sorted(loop_names(aws, flow_definition)) == sorted(human_loop_name(RUN_ID, key) for key in keys)


def test_a_batch_with_nothing_to_review_starts_nothing(aws, flow_definition, s3_hook, a2i_calls):
    plan = plan_for(flow_definition)
    write_decisions(s3_hook, plan, 0, [("b.jpg", ACCEPTED), ("c.jpg", None)])

    result = StartReviewsOperator(task_id="start_reviews", plan=plan, batch=0).execute({})

    assert result == {"batch": 0, "started": 0, "reused": 0, "earliest_created": None}
    assert sum(a2i_calls.values()) == 0
    layout = RunLayout(**plan["layout"])
    assert list(read_jsonl(s3_hook, layout.bucket, layout.batch_key("reviews", 0))) == []


def test_label_studio_is_refused_with_a_message_that_says_why(aws):
    operator = StartReviewsOperator(task_id="start_reviews", plan=plan_for(None, "labelstudio"), batch=0)

    with pytest.raises(ValueError, match="review_backend 'labelstudio' is not available yet"):
        operator.execute({})
