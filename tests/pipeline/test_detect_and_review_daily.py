"""detect_and_review_daily: each run takes the images that arrived in its data interval, once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest


@pytest.fixture
def daily(dag_bag, world, monkeypatch):
    # Scheduled runs have no form: their params come from this Variable.
    monkeypatch.setenv("AIRFLOW_VAR_DETECT_AND_REVIEW_DAILY", json.dumps(world.conf()))
    return dag_bag.get_dag("detect_and_review_daily")


def run_day(dag, day: datetime):
    """The run that covers `day`: it is due at the next midnight, when the day is over."""
    due = day + timedelta(days=1)
    return dag.test(logical_date=due, run_after=due)


def published_images(world) -> list[str]:
    s3 = world.client("s3")
    listed = s3.list_objects_v2(Bucket="hitl-test", Prefix="results/")
    names = []
    for item in listed.get("Contents", ()):
        if item["Key"].endswith("results.jsonl"):
            body = s3.get_object(Bucket="hitl-test", Key=item["Key"])["Body"].read().decode()
            names += [json.loads(line)["image_s3_uri"] for line in body.splitlines()]
    return names


def test_each_image_is_processed_by_the_run_of_the_day_it_arrived_and_by_no_other(world, daily):
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    with world.reviewers():
        yesterday_run = run_day(daily, today - timedelta(days=1))
        today_run = run_day(daily, today)
        tomorrow_run = run_day(daily, today + timedelta(days=1))

    assert [r.state for r in (yesterday_run, today_run, tomorrow_run)] == ["success"] * 3
    for empty_run in (yesterday_run, tomorrow_run):
        states = {ti.task_id: ti.state for ti in empty_run.get_task_instances()}
        assert states["deploy_model"] == "skipped"
        assert states["publish_results"] == "skipped"
    images = published_images(world)
    assert len(images) == 12
    assert len(set(images)) == 12
    assert world.client("sagemaker").list_endpoints()["Endpoints"] == []


def test_a_variable_that_is_not_an_object_fails_the_run(dag_bag, world, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_DETECT_AND_REVIEW_DAILY", "[1, 2]")
    run = run_day(dag_bag.get_dag("detect_and_review_daily"), datetime(2026, 1, 5, tzinfo=UTC))

    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["plan_run"] == "failed"
