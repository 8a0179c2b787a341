"""detect_and_review with inference batch_transform, end to end against the stand-in: the same
records and summary as with an endpoint, an image over the real-time limit detected, a bad image
failing by itself, a wait for the jobs that fails and is retried, and the daily DAG."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pipeline_world import BUCKET, SAMPLES
from test_detect_and_review import published, states
from test_detect_and_review_daily import published_images, run_day

from local_aws.stack import inject_fault

SEVEN_MB = 7 * 1024 * 1024
RECORD_FIELDS_OF_THE_MODEL = (
    "status",
    "boxes",
    "model_boxes",
    "image_size",
    "needs_review",
    "dropped_other_label",
)


def name_of(record: dict) -> str:
    return record["image_s3_uri"].rsplit("/", 1)[-1]


def transform_jobs(world) -> list[dict]:
    pages = world.client("sagemaker").get_paginator("list_transform_jobs").paginate()
    return [job for page in pages for job in page["TransformJobSummaries"]]


def test_a_transform_run_publishes_what_an_endpoint_run_does_and_takes_an_image_over_6_mb(
    world, detect_and_review
):
    good = (SAMPLES / "street-01.jpg").read_bytes()
    s3 = world.client("s3")
    s3.put_object(Bucket=BUCKET, Key="images/huge.jpg", Body=good + bytes(SEVEN_MB - len(good)))
    s3.put_object(Bucket=BUCKET, Key="images/truncated.jpg", Body=good[:3000])

    with world.reviewers():
        endpoint_run = detect_and_review.test(run_conf=world.conf())
        transform_run = detect_and_review.test(run_conf=world.conf(inference="batch_transform"))

    assert (endpoint_run.state, transform_run.state) == ("success", "success"), states(transform_run)
    endpoint_summary, endpoint_records = published(world, endpoint_run)
    summary, records = published(world, transform_run)
    assert (endpoint_summary["inference"], summary["inference"]) == ("endpoint", "batch_transform")
    assert set(summary) == set(endpoint_summary)
    assert [set(record) for record in records] == [set(record) for record in endpoint_records]
    by_name = {name_of(record): record for record in records}
    endpoint_by_name = {name_of(record): record for record in endpoint_records}
    for name in sorted(path.name for path in SAMPLES.glob("street-*")):
        assert {field: by_name[name][field] for field in RECORD_FIELDS_OF_THE_MODEL} == {
            field: endpoint_by_name[name][field] for field in RECORD_FIELDS_OF_THE_MODEL
        }, name
        if by_name[name]["status"] == "reviewed":
            assert by_name[name]["review"]["inference"] == "batch_transform"
            assert endpoint_by_name[name]["review"]["inference"] == "endpoint"
    # 7 MB: over a real-time endpoint's 6 MB request, within the transform job's MaxPayloadInMB.
    assert endpoint_by_name["huge.jpg"]["status"] == "error"
    assert "above the 6,291,456-byte (6 MB) request limit" in endpoint_by_name["huge.jpg"]["error"]
    assert by_name["huge.jpg"]["status"] == "accepted"
    assert by_name["huge.jpg"]["boxes"]
    # A bad image fails by itself, in both modes.
    assert endpoint_by_name["truncated.jpg"]["status"] == by_name["truncated.jpg"]["status"] == "error"
    assert "wrote no output for it: ClientError: 400" in by_name["truncated.jpg"]["error"]
    assert summary["by_status"] == {"accepted": 6, "reviewed": 7, "review_failed": 0, "error": 1}
    # Only the model was deployed, and it is gone; each content type had one job.
    task_states = states(transform_run)
    assert {
        task_states[task] for task in ("deploy_endpoint_config", "deploy_endpoint", "delete_endpoint")
    } == {"success"}
    sagemaker = world.client("sagemaker")
    assert sagemaker.list_models()["Models"] == [] == sagemaker.list_endpoints()["Endpoints"]
    jobs = transform_jobs(world)
    assert sorted(job["TransformJobName"].rsplit("-", 2)[1] for job in jobs) == ["jpeg", "png"]
    assert {job["TransformJobStatus"] for job in jobs} == {
        "Completed",
        "Failed",
    }  # the jpeg job met the bad image
    (detect,) = [ti for ti in transform_run.get_task_instances() if ti.task_id == "detect_objects"]
    result = detect.xcom_pull(task_ids="detect_objects")
    assert sorted(job["name"] for job in result["transform_jobs"]) == sorted(
        job["TransformJobName"] for job in jobs
    )
    assert result["billed_from"] <= result["billed_until"]


def test_a_wait_for_the_jobs_that_fails_is_retried_and_starts_no_second_job(world, detect_and_review):
    # The wait's first look fails through botocore's retries (5 attempts); the four calls before it
    # (each job looked up, then described once started) pass.
    inject_fault(world.stack, "DescribeTransformJob", "ThrottlingException", after=4, count=5)
    with world.reviewers():
        run = detect_and_review.test(run_conf=world.conf(inference="batch_transform"))

    assert run.state == "success", states(run)
    tries = {ti.try_number for ti in run.get_task_instances() if ti.task_id == "detect_objects"}
    assert max(tries) == 2
    assert sorted(job["TransformJobName"].rsplit("-", 2)[1:] for job in transform_jobs(world)) == [
        ["jpeg", "1"],
        ["png", "1"],
    ]
    summary, _ = published(world, run)
    assert summary["by_status"] == {"accepted": 5, "reviewed": 7, "review_failed": 0, "error": 0}


def test_the_daily_dag_in_transform_mode_takes_each_days_images_once(world, dag_bag, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_VAR_DETECT_AND_REVIEW_DAILY", json.dumps(world.conf(inference="batch_transform"))
    )
    daily = dag_bag.get_dag("detect_and_review_daily")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    with world.reviewers():
        yesterday, today_run = (run_day(daily, today + timedelta(days=offset)) for offset in (-1, 0))

    assert today_run.state == "success", states(today_run)
    # No image arrived yesterday: its run detected nothing and started no job.
    assert states(yesterday)["detect_objects"] == "skipped"
    images = published_images(world)
    assert sorted(name.rsplit("/", 1)[-1] for name in images) == sorted(
        path.name for path in SAMPLES.glob("street-*")
    )
    jobs = transform_jobs(world)
    assert len(jobs) == 2
    manifests = world.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="results/")["Contents"]
    listed = [
        entry
        for item in manifests
        if item["Key"].endswith(".manifest")
        for entry in json.loads(world.client("s3").get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())[
            1:
        ]
    ]
    assert sorted(listed) == sorted(path.name for path in SAMPLES.glob("street-*"))
