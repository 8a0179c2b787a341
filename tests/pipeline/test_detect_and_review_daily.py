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


def run_records(world, run) -> list[dict]:
    """The records of the run's own results.jsonl, in the folder its last task returned."""
    folder = run.get_task_instance("publish_results").xcom_pull(task_ids="publish_results")
    bucket, _, prefix = folder.removeprefix("s3://").partition("/")
    body = world.client("s3").get_object(Bucket=bucket, Key=f"{prefix}results.jsonl")["Body"].read()
    return [json.loads(line) for line in body.decode().splitlines()]


def test_two_deployments_running_the_same_day_keep_their_results_endpoints_and_loops_apart(
    world, daily, monkeypatch
):
    """Finding: staging and prod both ran the day's `detect_and_review_daily` run, one run id,
    against one account and one output location; the first run's results held the second's
    images, the second reused the first's model; both succeeded. Each deployment has a metadata
    database of its own, so an installation id of its own; dag.test() gives both the same run id."""
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    run_ids, records, loops = {}, {}, {}
    with world.reviewers():
        for deployment, installation_id in (("prod", "5f0c2a9e41d7b3c6"), ("staging", "0b8e6d1f2c4a9e75")):
            monkeypatch.setenv("AIRFLOW_VAR_HITL_DETECTION_INSTALLATION_ID", installation_id)
            run = run_day(daily, day)
            assert run.state == "success"
            # Read now: the next dag.test() replaces this run (and its XComs) in the one database.
            run_ids[deployment], records[deployment] = run.run_id, run_records(world, run)
            loops[deployment] = set(world.loop_names()).difference(*loops.values())

    assert run_ids["prod"] == run_ids["staging"]
    for deployment, own in records.items():
        assert len({record["image_s3_uri"] for record in own}) == len(own) == 12
        reviewed = {record["review"]["task"] for record in own if record["status"] == "reviewed"}
        assert reviewed
        assert reviewed <= loops[deployment]
    assert len(loops["prod"]) == len(loops["staging"]) == 7  # staging started loops of its own
    assert world.client("sagemaker").list_endpoints()["Endpoints"] == []
