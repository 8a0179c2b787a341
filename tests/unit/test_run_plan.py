"""The run's plan and file layout: what every task of a run agrees on."""

import json

from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.run_config import RunConfig
from hitl_detection.run_layout import RunLayout
from hitl_detection.run_plan import build_run_plan

PARAMS = {
    "input_s3_uri": "s3://in-bucket/images/",
    "output_s3_uri": "s3://out-bucket/results/",
    "labels": ["car", "person"],
    "model_package_arn": "arn:aws:sagemaker:us-east-1:865070037744:model-package/gluoncv-ssd",
    "execution_role_arn": "arn:aws:iam::123456789012:role/sagemaker-execution",
    "flow_definition_arn": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/review",
    "instance_count": 2,
}


def test_a_run_that_deploys_plans_model_config_and_endpoint_with_network_isolation():
    plan = build_run_plan(RunConfig.from_params(PARAMS), "manual__2026-11-25T10:00:00+00:00")

    assert plan["deploy"] is True
    assert plan["model"]["EnableNetworkIsolation"] is True
    assert plan["model"]["PrimaryContainer"] == {"ModelPackageName": PARAMS["model_package_arn"]}
    assert plan["model"]["ExecutionRoleArn"] == PARAMS["execution_role_arn"]
    (variant,) = plan["endpoint_config"]["ProductionVariants"]
    assert variant["ModelName"] == plan["model_name"] == plan["model"]["ModelName"]
    assert variant["InitialInstanceCount"] == 2
    assert variant["InstanceType"] == "ml.m4.xlarge"
    assert plan["endpoint"] == {
        "EndpointName": plan["endpoint_name"],
        "EndpointConfigName": plan["endpoint_config_name"],
    }
    names = (plan["endpoint_name"], plan["endpoint_config_name"], plan["model_name"])
    assert all(name.startswith("hitl-") for name in names)
    assert json.loads(json.dumps(plan)) == plan


def test_a_run_that_reuses_an_endpoint_plans_no_deployment_and_targets_that_endpoint():
    plan = build_run_plan(RunConfig.from_params({**PARAMS, "endpoint_name": "team-detector"}), "run-1")

    assert plan["deploy"] is False
    assert plan["endpoint_name"] == "team-detector"
    assert RunConfig.from_dict(plan["config"]).endpoint_name == "team-detector"


def test_the_layout_puts_everything_of_a_run_under_one_folder_of_the_output_prefix():
    plan = build_run_plan(RunConfig.from_params(PARAMS), "scheduled__2026-11-24T00:00:00+00:00")
    layout = RunLayout(**plan["layout"])

    assert layout.bucket == "out-bucket"
    assert layout.folder.startswith("results/scheduled__2026-11-24T00-00-00-00-00-")
    assert layout.folder.endswith("/")
    assert layout.uri == f"s3://out-bucket/{layout.folder}"
    for key in (layout.results_key, layout.summary_key, layout.batch_key("records", 3)):
        assert key.startswith(layout.folder)
    assert layout.results_key.endswith("/results.jsonl")
    assert layout.summary_key.endswith("/summary.json")
    assert layout.batch_key("decisions", 12).endswith("work/decisions/batch-00012.jsonl")


@given(st.text(min_size=1), st.text(min_size=1))
def test_distinct_runs_never_share_a_folder(first, second):
    one = RunLayout.for_run("b", "p/", first)
    other = RunLayout.for_run("b", "p/", second)
    assert (one == other) == (first == second)
