"""A run's transform jobs: their names, requests and limits, manifests, outputs, data logs and the
window they bill in."""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_run_plan import PARAMS as PLAN_PARAMS

from hitl_detection.domain.batch_transform import (
    MANIFEST_END,
    MAX_PAYLOAD_MB,
    BatchTransform,
    billed_window,
    data_log_errors,
    job_summary,
    transform_limits,
)
from hitl_detection.domain.bill import BILLED_FROM, BILLED_UNTIL
from hitl_detection.domain.run_config import RunConfig
from hitl_detection.domain.run_owner import DeploymentIdentity
from hitl_detection.domain.run_plan import RunPlan

PARAMS = {**PLAN_PARAMS, "instance_type": "ml.c5.xlarge", "instance_count": 3, "inference": "batch_transform"}
OWNER = DeploymentIdentity("prod", "5f0c2a9e41d7b3c6").owner_of("detect_and_review", "manual__2026-11-25")
TAGS = [{"Key": "hitl:run", "Value": "x"}]


def transform(**params) -> BatchTransform:
    plan = RunPlan.build(RunConfig.from_params({**PARAMS, **params}), owner=OWNER, concurrency_per_instance=4)
    return BatchTransform.for_plan(plan)


@given(st.integers(1, 1000))
def test_limits_fit_every_request_in_flight_under_100_mb(concurrency):
    concurrent, payload = transform_limits(concurrency)
    assert 1 <= concurrent <= concurrency
    assert payload >= 1
    assert concurrent * payload <= MAX_PAYLOAD_MB


@pytest.mark.parametrize("value", [0, True, 2.0])
def test_limits_need_a_whole_positive_concurrency(value):
    with pytest.raises(ValueError, match="concurrency_per_instance"):
        transform_limits(value)


def test_a_job_per_content_type_on_the_runs_model_instances_and_limits():
    setup = transform()
    job = setup.job("image/png", 2)
    request = setup.request(job, TAGS)

    assert job.name.endswith("-png-2")
    assert job.name.startswith("hitl-")
    assert len(job.name) <= 63
    assert setup.job("image/jpeg", 2).name == job.name.replace("-png-2", "-jpeg-2")
    assert request["ModelName"] == setup.model_name
    assert setup.model_name.endswith("-model")
    assert (request["MaxConcurrentTransforms"], request["MaxPayloadInMB"]) == (4, 25)
    assert request["TransformResources"] == {"InstanceType": "ml.c5.xlarge", "InstanceCount": 3}
    assert request["TransformInput"] == {
        "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": job.manifest_uri}},
        "ContentType": "image/png",
        "SplitType": "None",
        "CompressionType": "None",
    }
    assert request["TransformOutput"] == {"S3OutputPath": job.output_uri, "Accept": "application/json"}
    assert request["Tags"] == TAGS
    assert job.manifest_uri.startswith("s3://out-bucket/results/")
    assert job.manifest_key.endswith("/work/transform/png.manifest")
    assert job.output_prefix.endswith("/work/transform/png-2/")


def test_the_manifest_lists_keys_relative_to_the_input_prefix_and_outputs_follow_them():
    setup = transform()
    job = setup.job("image/jpeg", 1)
    keys = ["images/a.jpg", "images/deep/b c.JPEG"]

    text = setup.manifest_head() + "".join(setup.manifest_entry(key) for key in keys) + MANIFEST_END

    assert json.loads(text) == [{"prefix": "s3://in-bucket/images/"}, "a.jpg", "deep/b c.JPEG"]
    assert job.output_key(setup.relative_key(keys[1])) == f"{job.output_prefix}deep/b c.JPEG.out"


def test_a_job_is_found_again_by_its_name_and_names_of_other_runs_are_refused():
    setup = transform()
    job = setup.job("image/png", 3)

    assert setup.job_named(job.name) == job
    for name in (transform(instance_count=1).job("image/png", 3).name.replace("png", "gif"), "x", "a-png-x"):
        with pytest.raises(ValueError, match=f"transform job '{name}' is not one of run "):
            setup.job_named(name)
    other = BatchTransform.for_plan(
        RunPlan.build(
            RunConfig.from_params(PARAMS),
            owner=DeploymentIdentity("prod", "5f0c2a9e41d7b3c6").owner_of("detect_and_review", "other"),
            concurrency_per_instance=4,
        )
    )
    with pytest.raises(ValueError, match="is not one of run"):
        setup.job_named(other.job("image/png", 3).name)


@pytest.mark.parametrize("key", ["other/a.jpg", "images/"])
def test_a_key_outside_the_input_prefix_is_refused(key):
    with pytest.raises(ValueError, match="is not under the input prefix 'images/'"):
        transform().relative_key(key)


def test_a_run_reusing_an_endpoint_has_no_model_for_a_job_and_gifs_have_no_job():
    with pytest.raises(ValueError, match="reuses endpoint team: it has no model of its own"):
        transform(endpoint_name="team", inference="auto")
    with pytest.raises(ValueError, match="content type 'image/gif' is not one of image/jpeg, image/png"):
        transform().job("image/gif", 1)


def test_the_data_log_says_why_each_object_failed_and_skips_lines_naming_none():
    lines = [
        "2026-11-25T10:00:00.000:[sagemaker logs]: MaxConcurrentTransforms=4, MaxPayloadInMB=25",
        "2026-11-25T10:00:01.000:[sagemaker logs]: in/images/bad.jpg: ClientError: 400",
        "2026-11-25T10:00:01.000:[sagemaker logs]: in/images/bad.jpg: ",
        "2026-11-25T10:00:01.000:[sagemaker logs]: in/images/bad.jpg: Message:",
        "2026-11-25T10:00:01.000:[sagemaker logs]: in/images/bad.jpg: not a readable image: truncated",
        "[sagemaker logs]: in/images/big.png: ClientError: 413",
        "unrelated line: with a colon",
        "[sagemaker logs]: nobucket: ClientError: 500",
    ]
    assert data_log_errors(lines) == {
        "in/images/bad.jpg": "ClientError: 400 Message: not a readable image: truncated",
        "in/images/big.png": "ClientError: 413",
    }


def test_a_job_summary_and_the_window_its_instances_billed_in():
    started, ended = datetime(2026, 11, 25, 10, tzinfo=UTC), datetime(2026, 11, 25, 11, tzinfo=UTC)
    description = {
        "TransformJobName": "hitl-x-jpeg-1",
        "TransformJobStatus": "Completed",
        "TransformResources": {"InstanceType": "ml.m4.xlarge", "InstanceCount": 2},
        "TransformStartTime": started,
        "TransformEndTime": ended,
    }
    summary = job_summary(description)
    assert summary == {
        "name": "hitl-x-jpeg-1",
        "status": "Completed",
        "failure_reason": None,
        "instance_type": "ml.m4.xlarge",
        "instance_count": 2,
        "started": started.isoformat(),
        "ended": ended.isoformat(),
    }
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    running = {**summary, "name": "hitl-x-png-1", "started": ended.isoformat(), "ended": None}
    never = {**summary, "name": "hitl-x-png-2", "started": None, "ended": None}
    assert billed_window([summary, running, never], now) == {
        BILLED_FROM: started.isoformat(),
        BILLED_UNTIL: now.isoformat(),
    }
    assert billed_window([never], now) == {BILLED_FROM: None, BILLED_UNTIL: None}
