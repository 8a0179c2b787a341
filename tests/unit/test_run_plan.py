"""The run's plan and file layout: what every task of a run agrees on, and its one codec."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.run_config import RunConfig
from hitl_detection.domain.run_owner import DeploymentIdentity, read_owner_tags
from hitl_detection.domain.run_plan import DEFAULT_ENDPOINT_DEADLINE, SHARD_SIZE, RunLayout, RunPlan

PARAMS = {
    "input_s3_uri": "s3://in-bucket/images/",
    "output_s3_uri": "s3://out-bucket/results/",
    "labels": ["car", "person"],
    "model_package_arn": "arn:aws:sagemaker:us-east-1:865070037744:model-package/gluoncv-ssd",
    "execution_role_arn": "arn:aws:iam::123456789012:role/sagemaker-execution",
    "flow_definition_arn": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/review",
    "instance_count": 2,
}


PROD = DeploymentIdentity("prod", "5f0c2a9e41d7b3c6")
STAGING = DeploymentIdentity("staging", "0b8e6d1f2c4a9e75")
DAG_ID = "detect_and_review"
NOW = datetime(2026, 11, 25, 10, 5, tzinfo=UTC)


def plan_for(
    params, run_id="manual__2026-11-25T10:00:00+00:00", deployment=PROD, dag_id=DAG_ID, **kwargs
) -> RunPlan:
    return RunPlan.build(
        RunConfig.from_params(params),
        owner=deployment.owner_of(dag_id, run_id),
        concurrency_per_instance=4,
        **kwargs,
    )


def test_a_run_that_deploys_plans_model_config_and_endpoint_with_network_isolation():
    plan = plan_for(PARAMS)
    deployment, tags = plan.deployment, plan.resource_tags(NOW)

    assert deployment.deploys is True
    model = deployment.model_request(tags)
    assert model["EnableNetworkIsolation"] is True
    assert model["PrimaryContainer"] == {"ModelPackageName": PARAMS["model_package_arn"]}
    assert model["ExecutionRoleArn"] == PARAMS["execution_role_arn"]
    config = deployment.endpoint_config_request(tags)
    (variant,) = config["ProductionVariants"]
    assert variant["ModelName"] == deployment.model_name == model["ModelName"]
    assert variant["InitialInstanceCount"] == 2
    assert variant["InstanceType"] == "ml.m4.xlarge"
    assert deployment.endpoint_request(tags) == {
        "EndpointName": deployment.endpoint_name,
        "EndpointConfigName": deployment.endpoint_config_name,
        "Tags": tags,
    }
    assert model["Tags"] == config["Tags"] == tags
    names = (deployment.endpoint_name, deployment.endpoint_config_name, deployment.model_name)
    assert all(name.startswith("hitl-") for name in names)


def test_a_run_that_reuses_an_endpoint_plans_no_deployment_and_targets_that_endpoint():
    deployment = plan_for({**PARAMS, "endpoint_name": "team-detector"}, "run-1").deployment

    assert deployment.deploys is False
    assert deployment.endpoint_name == "team-detector"
    with pytest.raises(ValueError, match="the run reuses endpoint team-detector: it deploys no model_name"):
        deployment.model_request([])
    with pytest.raises(ValueError, match="deploys no endpoint_config_name"):
        deployment.endpoint_request([])


def test_requests_in_flight_are_the_endpoint_instances_times_what_one_serves():
    assert plan_for(PARAMS).endpoint_concurrency == 2 * 4
    reused = plan_for({**PARAMS, "endpoint_name": "team-detector"}, endpoint_instances=5)
    assert reused.endpoint_concurrency == 5 * 4
    with pytest.raises(ValueError, match="concurrency_per_instance 0 is below 1"):
        RunPlan.build(
            RunConfig.from_params(PARAMS), owner=PROD.owner_of("d", "r"), concurrency_per_instance=0
        )


def test_the_plan_holds_the_inference_mode_resolved_and_the_config_what_was_asked():
    assert plan_for(PARAMS).inference == "endpoint"
    transform = plan_for({**PARAMS, "inference": "batch_transform"})
    assert (transform.inference, transform.config.inference) == ("batch_transform", "batch_transform")
    small = plan_for({**PARAMS, "inference": "auto"}, images=10, batch_transform_above=10)
    large = plan_for({**PARAMS, "inference": "auto"}, images=11, batch_transform_above=10)
    assert (small.inference, large.inference, large.config.inference) == (
        "endpoint",
        "batch_transform",
        "auto",
    )
    reused = plan_for({**PARAMS, "inference": "auto", "endpoint_name": "team-detector"})
    assert reused.inference == "endpoint"
    with pytest.raises(ValueError, match="inference auto needs the number of the run's images"):
        plan_for({**PARAMS, "inference": "auto"})
    made_before = {**large.to_xcom()}
    del made_before["inference"]
    assert RunPlan.from_xcom(made_before).inference == "endpoint"


def test_what_a_run_deploys_is_tagged_with_its_owner_and_a_deadline_from_its_creation():
    plan = plan_for(PARAMS, endpoint_deadline=timedelta(hours=6))

    tagged = read_owner_tags(plan.resource_tags(NOW))

    assert tagged.owner == plan.owner == PROD.owner_of(DAG_ID, "manual__2026-11-25T10:00:00+00:00")
    assert tagged.deadline == NOW + timedelta(hours=6)
    assert plan_for(PARAMS).endpoint_deadline_seconds == DEFAULT_ENDPOINT_DEADLINE.total_seconds()
    with pytest.raises(ValueError, match="endpoint_deadline 0:00:00 is not positive"):
        plan_for(PARAMS, endpoint_deadline=timedelta(0))


def test_two_deployments_with_the_same_run_id_share_no_name_no_folder_and_no_loop():
    """Finding: staging and prod both ran `scheduled__<date>` of one DAG against one account and
    one output location, and read each other's results, model and endpoint."""
    run_id = "scheduled__2026-11-25T00:00:00+00:00"
    prod, staging = (
        plan_for(PARAMS, run_id, deployment, "detect_and_review_daily") for deployment in (PROD, STAGING)
    )

    assert prod.run_id == staging.run_id == run_id
    assert prod.run_key != staging.run_key
    assert prod.layout.folder != staging.layout.folder
    assert run_id.replace(":", "-").replace("+", "-") in prod.layout.folder
    assert not {
        prod.deployment.model_name,
        prod.deployment.endpoint_config_name,
        prod.deployment.endpoint_name,
    } & {
        staging.deployment.model_name,
        staging.deployment.endpoint_config_name,
        staging.deployment.endpoint_name,
    }
    assert prod.run_key == plan_for(PARAMS, run_id, PROD, "detect_and_review_daily").run_key  # every try


def test_a_plan_made_before_runs_had_owners_still_decodes_and_tags_nothing():
    """Runs in flight across an upgrade keep their key (their run id), loops and folder."""
    data = plan_for(PARAMS).to_xcom()
    data.update(run_key="manual__1", run_id="manual__1")
    del data["owner"], data["endpoint_deadline_seconds"]

    plan = RunPlan.from_xcom(data)

    assert (plan.owner, plan.run_key) == (None, "manual__1")
    assert plan.endpoint_deadline_seconds == DEFAULT_ENDPOINT_DEADLINE.total_seconds()
    assert plan.resource_tags(NOW) == []


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
    assert layout.folder.startswith("results/scheduled__2026-11-24T00-00-00-00-00-detect_and_review-prod-")
    assert layout.folder.endswith("/")
    assert layout.uri == f"s3://out-bucket/{layout.folder}"
    for key in (layout.results_key, layout.summary_key, layout.owner_key, layout.shard_key("records", 3)):
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
