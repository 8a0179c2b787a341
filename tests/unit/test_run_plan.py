"""The run's plan and file layout: what every task of a run agrees on, and its one codec."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.run_config import RunConfig
from hitl_detection.domain.run_plan import SHARD_SIZE, RunLayout, RunPlan

PARAMS = {
    "input_s3_uri": "s3://in-bucket/images/",
    "output_s3_uri": "s3://out-bucket/results/",
    "labels": ["car", "person"],
    "model_package_arn": "arn:aws:sagemaker:us-east-1:865070037744:model-package/gluoncv-ssd",
    "execution_role_arn": "arn:aws:iam::123456789012:role/sagemaker-execution",
    "flow_definition_arn": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/review",
    "instance_count": 2,
}


def plan_for(params, run_id="manual__2026-11-25T10:00:00+00:00", **kwargs) -> RunPlan:
    return RunPlan.build(RunConfig.from_params(params), run_id=run_id, concurrency_per_instance=4, **kwargs)


def test_a_run_that_deploys_plans_model_config_and_endpoint_with_network_isolation():
    deployment = plan_for(PARAMS).deployment

    assert deployment.deploys is True
    model = deployment.model_request()
    assert model["EnableNetworkIsolation"] is True
    assert model["PrimaryContainer"] == {"ModelPackageName": PARAMS["model_package_arn"]}
    assert model["ExecutionRoleArn"] == PARAMS["execution_role_arn"]
    (variant,) = deployment.endpoint_config_request()["ProductionVariants"]
    assert variant["ModelName"] == deployment.model_name == model["ModelName"]
    assert variant["InitialInstanceCount"] == 2
    assert variant["InstanceType"] == "ml.m4.xlarge"
    assert deployment.endpoint_request() == {
        "EndpointName": deployment.endpoint_name,
        "EndpointConfigName": deployment.endpoint_config_name,
    }
    names = (deployment.endpoint_name, deployment.endpoint_config_name, deployment.model_name)
    assert all(name.startswith("hitl-") for name in names)


def test_a_run_that_reuses_an_endpoint_plans_no_deployment_and_targets_that_endpoint():
    deployment = plan_for({**PARAMS, "endpoint_name": "team-detector"}, "run-1").deployment

    assert deployment.deploys is False
    assert deployment.endpoint_name == "team-detector"
    with pytest.raises(ValueError, match="the run reuses endpoint team-detector: it deploys no model_name"):
        deployment.model_request()
    with pytest.raises(ValueError, match="deploys no endpoint_config_name"):
        deployment.endpoint_request()


def test_requests_in_flight_are_the_endpoint_instances_times_what_one_serves():
    assert plan_for(PARAMS).endpoint_concurrency == 2 * 4
    reused = plan_for({**PARAMS, "endpoint_name": "team-detector"}, endpoint_instances=5)
    assert reused.endpoint_concurrency == 5 * 4
    with pytest.raises(ValueError, match="concurrency_per_instance 0 is below 1"):
        RunPlan.build(RunConfig.from_params(PARAMS), run_id="r", concurrency_per_instance=0)


@given(st.none() | st.just("team-detector"), st.integers(1, 8), st.text(min_size=1, max_size=40))
def test_the_plan_survives_its_codec_and_json(endpoint, count, run_id):
    plan = plan_for({**PARAMS, "endpoint_name": endpoint, "instance_count": count}, run_id)
    assert RunPlan.from_xcom(json.loads(json.dumps(plan.to_xcom()))) == plan


def test_a_plan_that_is_not_one_is_refused_by_name():
    with pytest.raises(ValueError, match=r"a run plan is a JSON object made by RunPlan\.to_xcom; got"):
        RunPlan.from_xcom({"config": {}})


def test_the_layout_puts_everything_of_a_run_under_one_folder_of_the_output_prefix():
    layout = plan_for(PARAMS, "scheduled__2026-11-24T00:00:00+00:00").layout

    assert layout.bucket == "out-bucket"
    assert layout.folder.startswith("results/scheduled__2026-11-24T00-00-00-00-00-")
    assert layout.folder.endswith("/")
    assert layout.uri == f"s3://out-bucket/{layout.folder}"
    for key in (layout.results_key, layout.summary_key, layout.shard_key("records", 3)):
        assert key.startswith(layout.folder)
    assert layout.results_key.endswith("/results.jsonl")
    assert layout.summary_key.endswith("/summary.json")
    assert layout.shard_key("detections", 12).endswith("work/detections/shard-00012.jsonl")
    assert SHARD_SIZE >= 1


@given(st.sampled_from(["images", "detections", "reviews", "records"]), st.integers(0, 99_999))
def test_a_shard_key_gives_its_shard_back(stage, shard):
    layout = RunLayout("b", "out/run-1/")
    assert layout.shard_of(stage, layout.shard_key(stage, shard)) == shard


@pytest.mark.parametrize(
    "key",
    [
        "out/run-1/work/images/notes.txt",
        "out/run-1/work/images/shard-x1.jsonl",
        "out/run-1/work/records/shard-00001.jsonl",
        "elsewhere/shard-00001.jsonl",
        "out/run-1/work/images/shard-.jsonl",
    ],
)
def test_other_keys_are_not_shards_of_the_stage(key):
    assert RunLayout("b", "out/run-1/").shard_of("images", key) is None


def test_an_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="stage 'predictions' is not one of images, detections"):
        RunLayout("b", "p/").shard_key("predictions", 0)


@given(st.text(min_size=1), st.text(min_size=1))
def test_distinct_runs_never_share_a_folder(first, second):
    one = RunLayout.for_run("b", "p/", first)
    other = RunLayout.for_run("b", "p/", second)
    assert (one == other) == (first == second)
