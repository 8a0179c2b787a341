"""Batch Transform through boto3 against the stand-in: a job reads its manifest from S3, runs the
simulated detector over each image, writes one `.out` per image and logs the images it could not
transform; its status moves InProgress -> Completed, Failed or Stopping -> Stopped."""

import json
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from stack_helpers import ROLE_ARN

from local_aws.endpoint.detector import SimulatedDetector
from local_aws.stack import inject_fault
from local_aws.transform.runner import LOG_GROUP, JobRunner, JobWork
from local_aws.workflow import create_endpoint

pytestmark = pytest.mark.stack

SAMPLES = Path(__file__).resolve().parents[2] / "include" / "sample_images"
BUCKET = "transform"
MODEL = "detector"
JPEGS = ["street-01.jpg", "street-02.jpg", "sub/street-03.jpg"]


@pytest.fixture(scope="session")
def logs_client(stack):
    return stack.client("logs")


@pytest.fixture
def model(clean_stack, sagemaker, s3) -> str:
    create_endpoint(sagemaker, MODEL, role_arn=ROLE_ARN)
    s3.create_bucket(Bucket=BUCKET)
    return MODEL


def put(s3, images: dict[str, bytes]) -> None:
    for key, body in images.items():
        s3.put_object(Bucket=BUCKET, Key=f"in/{key}", Body=body)


def manifest(s3, keys: list[str], name: str = "jobs/jpeg.manifest") -> str:
    body = json.dumps([{"prefix": f"s3://{BUCKET}/in/"}, *keys])
    s3.put_object(Bucket=BUCKET, Key=name, Body=body.encode())
    return f"s3://{BUCKET}/{name}"


def request(name: str, source: str, **overrides) -> dict:
    return {
        "TransformJobName": name,
        "ModelName": MODEL,
        "MaxConcurrentTransforms": 4,
        "MaxPayloadInMB": 25,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": source}},
            "ContentType": "image/jpeg",
            "SplitType": "None",
        },
        "TransformOutput": {"S3OutputPath": f"s3://{BUCKET}/out/{name}/", "Accept": "application/json"},
        "TransformResources": {"InstanceType": "ml.m4.xlarge", "InstanceCount": 1},
        **overrides,
    }


def wait_until_ended(sagemaker, name: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = sagemaker.describe_transform_job(TransformJobName=name)
        if job["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def outputs(s3, name: str) -> dict[str, list]:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"out/{name}/").get("Contents", [])
    return {
        item["Key"].removeprefix(f"out/{name}/"): json.loads(
            s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        )
        for item in listed
    }


def data_log(logs, name: str) -> list[str]:
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
    (stream,) = [s["logStreamName"] for s in streams if s["logStreamName"].endswith("/data-log")]
    events = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream, startFromHead=True)["events"]
    return [event["message"] for event in events]


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def test_a_job_writes_one_out_per_image_of_its_manifest_and_completes(sagemaker, s3, model):
    images = {key: (SAMPLES / key.rsplit("/", 1)[-1]).read_bytes() for key in JPEGS}
    put(s3, images)

    arn = sagemaker.create_transform_job(**request("job-1", manifest(s3, JPEGS)))["TransformJobArn"]
    job = wait_until_ended(sagemaker, "job-1")

    assert arn.endswith(":transform-job/job-1")
    assert job["TransformJobStatus"] == "Completed"
    assert "FailureReason" not in job
    assert job["CreationTime"] <= job["TransformStartTime"] <= job["TransformEndTime"]
    assert (job["MaxConcurrentTransforms"], job["MaxPayloadInMB"]) == (4, 25)
    assert job["TransformResources"] == {"InstanceType": "ml.m4.xlarge", "InstanceCount": 1}
    assert outputs(s3, "job-1") == {
        f"{key}.out": SimulatedDetector().detect(body, "image/jpeg") for key, body in images.items()
    }


def test_images_the_model_refuses_or_over_max_payload_get_no_out_and_the_data_log_says_why(
    sagemaker, s3, logs_client, model
):
    good = (SAMPLES / "street-01.jpg").read_bytes()
    put(s3, {"good.jpg": good, "truncated.jpg": good[:3000], "huge.jpg": good + bytes(2 * 1024 * 1024)})
    source = manifest(s3, ["good.jpg", "truncated.jpg", "huge.jpg"])

    sagemaker.create_transform_job(**request("job-2", source, MaxConcurrentTransforms=1, MaxPayloadInMB=1))
    job = wait_until_ended(sagemaker, "job-2")

    assert job["TransformJobStatus"] == "Failed"
    assert job["FailureReason"] == "ClientError: See job logs for more information"
    assert list(outputs(s3, "job-2")) == ["good.jpg.out"]
    lines = data_log(logs_client, "job-2")
    assert lines[0].endswith(
        "[sagemaker logs]: MaxConcurrentTransforms=1, MaxPayloadInMB=1, BatchStrategy=SINGLE_RECORD"
    )
    assert f"[sagemaker logs]: {BUCKET}/in/truncated.jpg: ClientError: 400" in "\n".join(lines)
    assert f"[sagemaker logs]: {BUCKET}/in/huge.jpg: ClientError: 413" in "\n".join(lines)
    assert any(
        line.endswith(
            f"{BUCKET}/in/huge.jpg: the object has {len(good) + 2 * 1024 * 1024} bytes, over MaxPayloadInMB 1"
        )
        for line in lines
    )
    assert not any("good.jpg" in line for line in lines)


def test_a_png_sent_as_jpeg_is_refused_by_the_model(sagemaker, s3, logs_client, model):
    put(s3, {"street-06.png": (SAMPLES / "street-06.png").read_bytes()})

    sagemaker.create_transform_job(**request("job-3", manifest(s3, ["street-06.png"])))

    assert wait_until_ended(sagemaker, "job-3")["TransformJobStatus"] == "Failed"
    assert "is a PNG image, not the image/jpeg its content type says" in data_log(logs_client, "job-3")[-1]


def test_a_job_over_an_s3_prefix_transforms_every_object_under_it(sagemaker, s3, model):
    put(s3, {key: (SAMPLES / key.rsplit("/", 1)[-1]).read_bytes() for key in JPEGS})
    prefix_request = request("job-4", f"s3://{BUCKET}/in/")
    prefix_request["TransformInput"]["DataSource"]["S3DataSource"]["S3DataType"] = "S3Prefix"

    sagemaker.create_transform_job(**prefix_request)

    assert wait_until_ended(sagemaker, "job-4")["TransformJobStatus"] == "Completed"
    assert sorted(outputs(s3, "job-4")) == sorted(f"{key}.out" for key in JPEGS)


def test_a_running_job_is_stopped(sagemaker, s3, clean_stack, model):
    put(s3, {"a.jpg": (SAMPLES / "street-01.jpg").read_bytes()})
    inject_fault(clean_stack, "RunTransformJob", None, delay_seconds=1.0)  # the instances take a while
    sagemaker.create_transform_job(**request("job-5", manifest(s3, ["a.jpg"])))

    sagemaker.stop_transform_job(TransformJobName="job-5")

    assert sagemaker.describe_transform_job(TransformJobName="job-5")["TransformJobStatus"] == "Stopping"
    job = wait_until_ended(sagemaker, "job-5")
    assert job["TransformJobStatus"] == "Stopped"
    assert "TransformEndTime" in job
    with pytest.raises(ClientError) as raised:
        sagemaker.stop_transform_job(TransformJobName="job-5")
    assert error_of(raised) == (
        "ValidationException",
        "Transform job job-5 is Stopped: only an InProgress job can be stopped.",
    )


def test_a_fault_on_run_transform_job_fails_the_next_job_as_a_whole(sagemaker, s3, clean_stack, model):
    put(s3, {"a.jpg": (SAMPLES / "street-01.jpg").read_bytes()})
    inject_fault(clean_stack, "RunTransformJob", "CapacityError", message="No ml.m4.xlarge capacity")

    sagemaker.create_transform_job(**request("job-6", manifest(s3, ["a.jpg"])))
    sagemaker.create_transform_job(**request("job-7", manifest(s3, ["a.jpg"])))

    failed = wait_until_ended(sagemaker, "job-6")
    assert (failed["TransformJobStatus"], failed["FailureReason"]) == (
        "Failed",
        "CapacityError: No ml.m4.xlarge capacity",
    )
    assert outputs(s3, "job-6") == {}
    assert wait_until_ended(sagemaker, "job-7")["TransformJobStatus"] == "Completed"


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        (
            {"ModelName": "no-such-model"},
            "ValidationException",
            'Could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/no-such-model".',
        ),
        (
            {"MaxConcurrentTransforms": 5},
            "ValidationException",
            "MaxConcurrentTransforms (5) x MaxPayloadInMB (25) is over 100 MB.",
        ),
        (
            {"MaxPayloadInMB": 101, "MaxConcurrentTransforms": 1},
            "ValidationException",
            "Value '101' at 'MaxPayloadInMB' failed to satisfy constraint",
        ),
    ],
)
def test_a_request_sagemaker_refuses_is_refused(sagemaker, s3, model, overrides, code, message):
    with pytest.raises(ClientError) as raised:
        sagemaker.create_transform_job(**request("job-8", manifest(s3, []), **overrides))

    assert error_of(raised)[0] == code
    assert message in error_of(raised)[1]


def test_names_are_unique_and_unknown_jobs_are_not_found(sagemaker, s3, model):
    source = manifest(s3, [])
    sagemaker.create_transform_job(**request("job-9", source))

    with pytest.raises(ClientError) as raised:
        sagemaker.create_transform_job(**request("job-9", source))
    assert error_of(raised)[0] == "ResourceInUse"
    with pytest.raises(ClientError) as raised:
        sagemaker.describe_transform_job(TransformJobName="job-10")
    assert error_of(raised) == ("ValidationException", "Could not find requested job with name job-10")


def test_jobs_are_listed_by_name(sagemaker, s3, model):
    source = manifest(s3, [])
    for name in ("run-a-jpeg-1", "run-a-png-1", "run-b-jpeg-1"):
        sagemaker.create_transform_job(**request(name, source))
        wait_until_ended(sagemaker, name)

    pages = sagemaker.get_paginator("list_transform_jobs").paginate(
        NameContains="run-a", PaginationConfig={"PageSize": 1}
    )
    names = [job["TransformJobName"] for page in pages for job in page["TransformJobSummaries"]]

    assert sorted(names) == ["run-a-jpeg-1", "run-a-png-1"]


def test_a_jobs_tags_are_listed_and_other_resources_tags_are_motos(sagemaker, s3, model):
    tags = [{"Key": "hitl-detection:run", "Value": "manual__1"}]
    created = sagemaker.create_transform_job(**request("job-tagged", manifest(s3, []), Tags=tags))
    arn = created["TransformJobArn"]

    assert sagemaker.list_tags(ResourceArn=arn)["Tags"] == tags
    model_arn = sagemaker.describe_model(ModelName=MODEL)["ModelArn"]
    assert sagemaker.list_tags(ResourceArn=model_arn)["Tags"] == []  # answered by moto
    with pytest.raises(ClientError) as raised:
        sagemaker.list_tags(ResourceArn=arn.replace("job-tagged", "job-unknown"))
    assert error_of(raised) == (
        "ValidationException",
        f"Could not find transform job {arn.replace('job-tagged', 'job-unknown')}",
    )


def test_a_job_works_on_its_instances_times_max_concurrent_transforms_within_the_model_capacity():
    work = JobWork("j", "ManifestFile", "s3://b/m", "image/jpeg", "s3://b/o/", 3, 4, 25)

    assert JobRunner(None, None, SimulatedDetector(), None, lambda _: None).workers(work) == 12
    assert JobRunner(None, None, SimulatedDetector(), 8, lambda _: None).workers(work) == 8
