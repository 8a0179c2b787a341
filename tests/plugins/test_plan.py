"""PlanRunOperator.execute against the stand-in: bad params and review or endpoint settings that
point at the wrong thing are refused before anything is paid for; the plan it returns is the one
every other task decodes."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowFailException
from support import (
    CONCURRENCY_PER_INSTANCE,
    FLOW_DEFINITION_NAME,
    RUN_ID,
    deploy_by_hand,
    make_plan,
    rewrite_answers,
    run_params,
    task_context,
)

from hitl_detection.domain.run_plan import RunPlan
from hitl_detection.operators.plan import PlanRunOperator
from local_aws.workflow import create_endpoint

pytestmark = pytest.mark.stack


def plan_run(params: dict, concurrency_per_instance: int = CONCURRENCY_PER_INSTANCE) -> dict:
    operator = PlanRunOperator(task_id="plan_run", concurrency_per_instance=concurrency_per_instance)
    return operator.execute(task_context(params=params, run_id=RUN_ID))


def test_the_plan_round_trips_and_is_what_every_task_decodes(flow_definition):
    planned = plan_run(run_params())

    assert RunPlan.from_xcom(json.loads(json.dumps(planned))) == make_plan()
    assert planned["deployment"]["deploys"] is True
    assert planned["endpoint_concurrency"] == 4


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"threshold": 1.5}, "threshold 1.5 is above 1"),
        ({"labels": None}, "labels is missing"),
        ({"execution_role_arn": None}, "execution_role_arn is required when endpoint_name is null"),
        ({"output_s3_uri": "s3://hitl-runs/images/"}, "output_s3_uri 's3://hitl-runs/images/' is the same"),
        (
            {"flow_definition_arn": "review-boxes"},
            "flow_definition_arn 'review-boxes' is not a flow definition",
        ),
    ],
)
def test_bad_params_fail_at_once_naming_the_param(aws, a2i_calls, overrides, named):
    with pytest.raises(AirflowFailException, match="The run's params are not valid") as raised:
        plan_run(run_params(**overrides))

    assert named in str(raised.value)
    assert sum(a2i_calls.values()) == 0


def test_every_param_problem_is_reported_at_once(aws):
    with pytest.raises(AirflowFailException, match=r"have 2 problem\(s\)") as raised:
        plan_run(run_params(threshold=-1, instance_count=0))

    assert "threshold -1 is below 0" in str(raised.value)
    assert "instance_count 0 is below 1" in str(raised.value)


def test_a_flow_definition_of_another_account_or_region_is_refused_naming_both_arns(flow_definition):
    elsewhere = f"arn:aws:sagemaker:eu-west-1:999999999999:flow-definition/{FLOW_DEFINITION_NAME}"

    with pytest.raises(
        AirflowFailException, match=f"flow_definition_arn {elsewhere} does not exist here"
    ) as raised:
        plan_run(run_params(flow_definition_arn=elsewhere))

    assert f"the flow definition of that name is {flow_definition}" in str(raised.value)


def test_a_flow_definition_that_does_not_exist_is_refused(aws):
    with pytest.raises(
        AirflowFailException, match=r"review_backend a2i: flow_definition_arn .*ResourceNotFound"
    ):
        plan_run(run_params())


def test_a_flow_definition_that_is_not_active_is_refused(flow_definition, on_botocore_event):
    rewrite_answers(on_botocore_event, "sagemaker", "DescribeFlowDefinition", FlowDefinitionStatus="Failed")

    with pytest.raises(
        AirflowFailException,
        match=f"flow_definition_arn {flow_definition} is Failed; expected Active",
    ):
        plan_run(run_params())


def test_a_reused_endpoint_sets_the_concurrency_from_its_instances(aws, flow_definition):
    other_run = make_plan(run_id="manual__2026-11-24T08:00:00+00:00", instance_count=3)
    deploy_by_hand(aws.client("sagemaker"), other_run)
    name = other_run.deployment.endpoint_name

    planned = RunPlan.from_xcom(plan_run(run_params(endpoint_name=name), concurrency_per_instance=2))

    assert planned.deployment.deploys is False
    assert planned.deployment.endpoint_name == name
    assert planned.config.instance_count == 1
    assert planned.endpoint_concurrency == 3 * 2


def test_a_reused_endpoint_that_is_not_in_service_is_refused(aws, flow_definition, on_botocore_event):
    create_endpoint(aws.client("sagemaker"), "team-detector")
    rewrite_answers(on_botocore_event, "sagemaker", "DescribeEndpoint", EndpointStatus="Updating")

    with pytest.raises(
        AirflowFailException, match="endpoint_name team-detector is Updating; expected an InService endpoint"
    ):
        plan_run(run_params(endpoint_name="team-detector"))


def test_a_reused_endpoint_that_does_not_exist_is_refused(aws, flow_definition):
    with pytest.raises(AirflowFailException, match=r"endpoint_name team-detector: .*Could not find endpoint"):
        plan_run(run_params(endpoint_name="team-detector"))


def test_a_conf_variable_overrides_the_params_of_a_scheduled_run(flow_definition, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_HITL_DAILY_CONF", json.dumps({"threshold": 0.75, "max_images": 20}))
    operator = PlanRunOperator(task_id="plan_run", conf_variable="hitl_daily_conf")

    planned = RunPlan.from_xcom(operator.execute(task_context(params=run_params(), run_id=RUN_ID)))

    assert (planned.config.policy.threshold, planned.config.max_images) == (0.75, 20)


def test_a_conf_variable_that_is_not_a_json_object_is_refused(aws, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_HITL_DAILY_CONF", json.dumps([0.75]))
    operator = PlanRunOperator(task_id="plan_run", conf_variable="hitl_daily_conf")

    with pytest.raises(
        AirflowFailException, match=r"Variable hitl_daily_conf is \[0.75\]; expected a JSON object"
    ):
        operator.execute(task_context(params=run_params(), run_id=RUN_ID))
