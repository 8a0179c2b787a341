"""Detection as SageMaker Batch Transform jobs, against the stand-in: DetectObjectsOperator starts a
job per content type and defers to its trigger; once the jobs end, each image's `.out` is gated as
the endpoint's answer is; an image the job failed fails by itself; a retry reuses the job of an
earlier try, or starts the next attempt when that one failed as a whole. The deploy steps, the
teardown and plan_run's choice for inference `auto` too."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest
from airflow.sdk.exceptions import AirflowException, TaskDeferred
from support import (
    BUCKET,
    INPUT_PREFIX,
    SAMPLES,
    image_row,
    make_plan,
    put_images,
    read_shards,
    run_params,
    sample,
    task_context,
    write_shards,
)

from hitl_detection.dag_builder.params import DEFAULT_LABELS
from hitl_detection.domain.bill import BILLED_FROM, BILLED_UNTIL
from hitl_detection.operators.deploy import DeployEndpointConfigOperator, DeployEndpointOperator
from hitl_detection.operators.detect import DetectObjectsOperator
from hitl_detection.operators.plan import PlanRunOperator
from hitl_detection.operators.teardown import SageMakerEndpointTeardownOperator
from hitl_detection.triggers.transform import TransformJobsEndedTrigger
from local_aws.stack import inject_fault

pytestmark = pytest.mark.stack

SAMPLE_NAMES = sorted(path.name for path in SAMPLES.glob("street-*"))
# What the simulated detector sends to review with DEFAULT_LABELS (its module's table).
REVIEWED = {"street-04.jpg", "street-05.jpg", "street-06.png", "street-07.jpg", "street-08.jpg"}
REVIEWED |= {"street-09.jpg", "street-12.jpg"}
SEVEN_MB = 7 * 1024 * 1024


def transform_plan(**overrides):
    return make_plan(inference="batch_transform", **overrides)


@pytest.fixture
def model(aws, bucket):
    """The run's model, as deploy_model creates it (the stand-in's transform jobs need it)."""

    def create(plan) -> str:
        request = plan.deployment.model_request(plan.resource_tags(datetime.now(UTC)))
        aws.client("sagemaker").create_model(**request)
        return request["ModelName"]

    return create


def staged(plan, aws, shards: list[dict[str, bytes]]) -> None:
    for images in shards:
        put_images(aws.client("s3"), images)
    write_shards(plan, "images", [[image_row(name) for name in images] for images in shards])


def first_event(trigger: TransformJobsEndedTrigger) -> dict:
    async def run():
        return await anext(trigger.run())

    return asyncio.run(run()).payload


def start(plan) -> tuple[DetectObjectsOperator, TaskDeferred]:
    operator = DetectObjectsOperator(task_id="detect_objects", plan=plan.to_xcom(), poll_interval=0.05)
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(task_context())
    return operator, deferred.value


def detect(plan) -> dict:
    """execute, the trigger until the jobs end, execute_complete: what Airflow runs."""
    operator, deferred = start(plan)
    return operator.execute_complete(task_context(), first_event(deferred.trigger))


@pytest.fixture
def image_reads(on_botocore_event) -> list[tuple[str, str | None]]:
    """(key, Range) of every GetObject of an input image made from now on."""
    reads: list[tuple[str, str | None]] = []

    def record(params, **_):
        if params["Key"].startswith(INPUT_PREFIX):
            reads.append((params["Key"], params.get("Range")))

    on_botocore_event("before-parameter-build.s3.GetObject", record)
    return reads


def test_every_image_is_gated_from_its_jobs_output_and_only_image_headers_are_read(
    aws, model, image_reads, count_calls
):
    plan = transform_plan(labels=DEFAULT_LABELS)
    model(plan)
    staged(
        plan,
        aws,
        [
            {name: sample(name) for name in SAMPLE_NAMES[:7]},
            {name: sample(name) for name in SAMPLE_NAMES[7:]},
        ],
    )
    calls = count_calls("sagemaker")

    operator, deferred = start(plan)
    trigger = deferred.trigger
    jobs = sorted(trigger.job_names)
    event = first_event(trigger)
    result = operator.execute_complete(task_context(), event)

    assert [job.rsplit("-", 2)[1:] for job in jobs] == [["jpeg", "1"], ["png", "1"]]
    assert calls["CreateTransformJob"] == 2
    assert {
        key: result[key] for key in ("images", "accepted", "needs_review", "errors", "reused_shards")
    } == {
        "images": 12,
        "accepted": 5,
        "needs_review": 7,
        "errors": 0,
        "reused_shards": 0,
    }
    summaries = {job["name"]: job for job in result["transform_jobs"]}
    assert sorted(summaries) == jobs
    assert {job["status"] for job in summaries.values()} == {"Completed"}
    assert {(job["instance_type"], job["instance_count"]) for job in summaries.values()} == {
        ("ml.m4.xlarge", 1)
    }
    assert result[BILLED_FROM] == min(job["started"] for job in summaries.values())
    assert result[BILLED_UNTIL] == max(job["ended"] for job in summaries.values())
    rows = [row for rows in read_shards(plan, "detections").values() for row in rows]
    assert [row.key for row in rows] == [f"{INPUT_PREFIX}{name}" for name in SAMPLE_NAMES]
    for row in rows:
        name = row.key.removeprefix(INPUT_PREFIX)
        assert row.error is None
        assert row.needs_review == (name in REVIEWED), (name, row.decision.reasons)
    assert {row.key: row.size for row in rows}["images/street-06.png"] is not None
    # The worker read each image's first 8 KB for its size, never a whole image.
    assert sorted(key for key, _ in image_reads) == [row.key for row in rows]
    assert {byte_range for _, byte_range in image_reads} == {"bytes=0-8191"}


def test_an_image_the_job_failed_fails_itself_and_a_7_mb_image_passes(aws, model):
    plan = transform_plan()
    model(plan)
    good = sample("street-01.jpg")
    huge = good + bytes(SEVEN_MB - len(good))  # a real JPEG, padded after its end to 7 MB
    staged(
        plan, aws, [{"good.jpg": good, "truncated.jpg": good[:3000], "notes.jpg": b"hello", "huge.jpg": huge}]
    )

    result = detect(plan)

    assert (result["images"], result["errors"]) == (4, 2)
    (job,) = result["transform_jobs"]
    assert (job["status"], job["failure_reason"]) == (
        "Failed",
        "ClientError: See job logs for more information",
    )
    good_row, truncated, notes, huge_row = read_shards(plan, "detections")[0]
    assert (good_row.error, huge_row.error) == (None, None)
    assert huge_row.size == good_row.size
    prefix = f"transform job {job['name']} wrote no output for it: ClientError: 400 Message: "
    assert truncated.error.startswith(prefix)
    assert "is not a readable image/jpeg image" in truncated.error
    assert notes.error.startswith(prefix)


def test_a_retry_waits_for_the_job_an_earlier_try_started_and_sends_no_image_twice(aws, model, count_calls):
    plan = transform_plan()
    model(plan)
    staged(plan, aws, [{"a.jpg": sample("street-01.jpg")}, {"b.jpg": sample("street-02.jpg")}])
    calls = count_calls("sagemaker")
    _, deferred = start(plan)
    first_event(deferred.trigger)  # the first try's wait ends here (say the worker was lost)

    retry = detect(plan)
    again = detect(plan)  # every shard written: the jobs are found again for what they cost

    assert calls["CreateTransformJob"] == 1
    assert (retry["images"], retry["reused_shards"]) == (2, 0)
    assert (again["images"], again["reused_shards"]) == (0, 2)
    assert again["transform_jobs"] == retry["transform_jobs"]


def test_a_job_that_failed_as_a_whole_fails_the_task_and_the_retry_starts_the_next_attempt(aws, model):
    plan = transform_plan()
    model(plan)
    staged(plan, aws, [{"a.jpg": sample("street-01.jpg")}])
    inject_fault(aws, "RunTransformJob", "CapacityError", message="No ml.m4.xlarge capacity")

    operator, deferred = start(plan)
    with pytest.raises(AirflowException) as raised:
        operator.execute_complete(task_context(), first_event(deferred.trigger))
    (name,) = deferred.trigger.job_names

    assert str(raised.value) == (
        f"transform job {name} is Failed (CapacityError: No ml.m4.xlarge capacity) and named no image in its "
        "data log: it failed as a whole. A retry of this task starts attempt 2."
    )
    result = detect(plan)
    (job,) = result["transform_jobs"]
    assert job["name"] == name.removesuffix("-1") + "-2"
    assert (job["status"], result["images"], result["errors"]) == ("Completed", 1, 0)


def test_the_teardown_stops_a_job_still_running_and_deletes_the_model(aws, model):
    plan = transform_plan()
    model_name = model(plan)
    staged(plan, aws, [{"a.jpg": sample("street-01.jpg")}])
    inject_fault(aws, "RunTransformJob", None, delay_seconds=2)  # the instances take their time
    _, deferred = start(plan)

    outcome = SageMakerEndpointTeardownOperator(task_id="delete_endpoint", plan=plan.to_xcom()).execute(
        task_context()
    )

    (job,) = outcome["transform jobs"]
    assert (job["name"], job["status"]) == (deferred.trigger.job_names[0], "Stopping")
    assert outcome["model"] == "deleted"
    assert outcome[BILLED_FROM] == job["started"]
    assert first_event(deferred.trigger)["jobs"][0]["status"] == "Stopped"
    assert aws.client("sagemaker").list_models()["Models"] == []
    assert model_name.endswith("-model")


def test_the_endpoint_config_and_endpoint_steps_deploy_nothing_in_transform_mode(aws, count_calls):
    plan = transform_plan()
    calls = count_calls("sagemaker")

    for step in (DeployEndpointConfigOperator, DeployEndpointOperator):
        assert step(task_id="deploy", plan=plan.to_xcom()).execute(task_context()) is None

    assert sum(calls.values()) == 0


def test_the_trigger_serializes_to_its_importable_path_and_back():
    trigger = TransformJobsEndedTrigger(
        job_names=["a", "b"], deadline="2100-01-01T00:00:00+00:00", poll_interval=1
    )
    classpath, kwargs = trigger.serialize()

    assert classpath == "hitl_detection.triggers.transform.TransformJobsEndedTrigger"
    assert TransformJobsEndedTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_the_trigger_gives_up_at_its_deadline_and_reports_a_job_it_cannot_see(aws, model):
    plan = transform_plan()
    model(plan)
    staged(plan, aws, [{"a.jpg": sample("street-01.jpg")}])
    inject_fault(aws, "RunTransformJob", None, delay_seconds=2)
    _, deferred = start(plan)
    (name,) = deferred.trigger.job_names
    past = "2026-01-01T00:00:00+00:00"

    timed_out = first_event(TransformJobsEndedTrigger(job_names=[name], deadline=past, poll_interval=0.05))
    missing = first_event(
        TransformJobsEndedTrigger(job_names=["no-such-job"], deadline=past, poll_interval=0.05)
    )

    assert timed_out == {
        "status": "error",
        "message": f"transform jobs still running at {past}: {name} InProgress",
    }
    assert missing["status"] == "error"
    assert "Could not find requested job with name no-such-job" in missing["message"]


def test_the_manifest_lists_exactly_the_listed_images_one_per_content_type(aws, model):
    plan = transform_plan()
    model(plan)
    listed = {"a.jpg": sample("street-01.jpg"), "sub/b.png": sample("street-11.png")}
    staged(plan, aws, [listed])
    put_images(aws.client("s3"), {"not-listed.jpg": sample("street-02.jpg")})  # say max_images left it out
    s3 = aws.client("s3")

    _, deferred = start(plan)
    first_event(deferred.trigger)

    manifests = {
        item["Key"].rsplit("/", 1)[-1]: json.loads(
            s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        )
        for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=plan.layout.folder)["Contents"]
        if item["Key"].endswith(".manifest")
    }
    prefix = {"prefix": f"s3://{BUCKET}/{INPUT_PREFIX}"}
    assert manifests == {"jpeg.manifest": [prefix, "a.jpg"], "png.manifest": [prefix, "sub/b.png"]}


@pytest.mark.parametrize(
    ("images", "max_images", "inference"),
    [(3, None, "endpoint"), (4, None, "batch_transform"), (4, 3, "endpoint")],
)
def test_plan_run_with_auto_counts_the_images_the_run_takes_to_pick_the_mode(
    flow_definition, bucket, aws, images, max_images, inference
):
    put_images(aws.client("s3"), {f"{n}.jpg": b"x" for n in range(images)} | {"notes.txt": b"x"})
    operator = PlanRunOperator(task_id="plan_run", batch_transform_above=3)

    planned = operator.execute(task_context(params=run_params(inference="auto", max_images=max_images)))

    assert (planned["inference"], planned["params"]["inference"]) == (inference, "auto")


def test_an_image_whose_header_lies_past_the_first_bytes_is_read_further_never_whole(aws, model, image_reads):
    plan = transform_plan()
    model(plan)
    jpeg = sample("street-01.jpg")
    comment = b"\xff\xfe" + (20_002).to_bytes(2, "big") + bytes(20_000)  # 20 KB before the frame header
    staged(plan, aws, [{"late-header.jpg": jpeg[:2] + comment + jpeg[2:]}])

    result = detect(plan)

    assert (result["images"], result["errors"]) == (1, 0)
    assert read_shards(plan, "detections")[0][0].size == (640, 400)
    assert [byte_range for _, byte_range in image_reads] == ["bytes=0-8191", "bytes=0-65535"]
