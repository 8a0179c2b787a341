"""RemoveLeftoverEndpointsOperator in real DAG runs against the stand-in: what a run killed before
its teardown left is removed once the run is over, or once its deadline has passed while the run
still goes; what is untagged or another deployment's is left, and said why."""

from __future__ import annotations

import json

import pytest
from support import DAG_ID, deploy_by_hand, make_plan, run_params

from hitl_detection.domain.run_owner import DeploymentIdentity
from hitl_detection.domain.run_plan import RunPlan
from local_aws.stack import inject_fault
from local_aws.workflow import create_endpoint

pytestmark = pytest.mark.stack

# A detect_and_review run killed before its teardown: it plans and deploys, and then stops, with
# the cost guard in the same run when GUARD (after a pause, for the deadline to pass).
KILLED_RUN_SOURCE = """
import json
import time
from datetime import datetime, timedelta

from airflow.sdk import DAG, chain, task

from hitl_detection.operators.cost_guard import RemoveLeftoverEndpointsOperator
from hitl_detection.operators.deploy import (
    DeployEndpointConfigOperator,
    DeployEndpointOperator,
    DeployModelOperator,
)
from hitl_detection.operators.plan import PlanRunOperator

OPTIONS = json.loads(OPTIONS_JSON)


@task
def pause():
    time.sleep(OPTIONS["pause_seconds"])


with DAG("test_killed_run", schedule=None, start_date=datetime(2026, 1, 1), params=OPTIONS["params"]) as dag:
    deadline = timedelta(seconds=OPTIONS["deadline_seconds"])
    plan = PlanRunOperator(task_id="plan_run", endpoint_deadline=deadline)
    steps = [
        plan,
        DeployModelOperator(task_id="deploy_model", plan=plan.output),
        DeployEndpointConfigOperator(task_id="deploy_endpoint_config", plan=plan.output),
        DeployEndpointOperator(task_id="deploy_endpoint", plan=plan.output, check_interval=0.1),
    ]
    if OPTIONS["guard"]:
        steps += [pause(), RemoveLeftoverEndpointsOperator(task_id="remove_leftover_endpoints")]
    chain(*steps)
"""

GUARD_SOURCE = """
from datetime import datetime

from airflow.sdk import DAG

from hitl_detection.operators.cost_guard import RemoveLeftoverEndpointsOperator

with DAG("test_endpoint_cost_guard", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
    RemoveLeftoverEndpointsOperator(task_id="remove_leftover_endpoints")
"""


@pytest.fixture
def killed_run(dag_from_source, flow_definition, bucket):
    """`killed_run(...).test()`: a run that deployed and never tore down."""

    def make(*, guard: bool = False, deadline_seconds: int = 86400, pause_seconds: float = 0):
        options = {
            "params": run_params(),
            "guard": guard,
            "deadline_seconds": deadline_seconds,
            "pause_seconds": pause_seconds,
        }
        return dag_from_source(
            "test_killed_run", f"OPTIONS_JSON = {json.dumps(options)!r}\n{KILLED_RUN_SOURCE}"
        )

    return make


@pytest.fixture
def guard(dag_from_source):
    return dag_from_source("test_endpoint_cost_guard", GUARD_SOURCE)


def plan_of(run) -> RunPlan:
    return RunPlan.from_xcom(run.get_task_instance("plan_run").xcom_pull(task_ids="plan_run"))


def report_of(run) -> dict:
    return run.get_task_instance("remove_leftover_endpoints").xcom_pull(task_ids="remove_leftover_endpoints")


def names(plan: RunPlan) -> set[str]:
    deployment = plan.deployment
    return {deployment.endpoint_name, deployment.endpoint_config_name, deployment.model_name}


def remaining(sagemaker) -> set[str]:
    return {
        *(endpoint["EndpointName"] for endpoint in sagemaker.list_endpoints()["Endpoints"]),
        *(config["EndpointConfigName"] for config in sagemaker.list_endpoint_configs()["EndpointConfigs"]),
        *(model["ModelName"] for model in sagemaker.list_models()["Models"]),
    }


def test_a_run_killed_before_its_teardown_loses_its_endpoint_once_over_and_nothing_else_goes(
    aws, killed_run, guard
):
    sagemaker = aws.client("sagemaker")
    create_endpoint(sagemaker, "hitl-made-by-hand")  # untagged, as an endpoint a run reuses
    create_endpoint(sagemaker, "team-hitl-detector")  # not named hitl-*: never looked at
    staging = DeploymentIdentity("staging", "0b8e6d1f2c4a9e75")
    theirs = RunPlan.build(
        make_plan().config, owner=staging.owner_of(DAG_ID, "manual__1"), concurrency_per_instance=1
    )
    deploy_by_hand(sagemaker, theirs)

    killed = killed_run().test()
    assert killed.state == "success"
    plan = plan_of(killed)
    assert names(plan) <= remaining(sagemaker)

    run = guard.test()

    assert run.state == "success"
    report = report_of(run)
    over = f"run {plan.run_id} of DAG test_killed_run is over"
    assert report["removed"] == [
        {"kind": "endpoint", "name": plan.deployment.endpoint_name, "reason": over, "outcome": "deleted"},
        {
            "kind": "endpoint config",
            "name": plan.deployment.endpoint_config_name,
            "reason": over,
            "outcome": "deleted",
        },
        {"kind": "model", "name": plan.deployment.model_name, "reason": over, "outcome": "deleted"},
    ]
    left = {verdict["name"]: verdict["reason"] for verdict in report["left"]}
    assert set(left) == {"hitl-made-by-hand"} | names(theirs)
    assert left["hitl-made-by-hand"].startswith("it has no hitl-detection tags")
    assert (
        left[theirs.deployment.endpoint_name]
        == "deployment staging deployed it, for run manual__1 of DAG detect_and_review"
    )
    assert remaining(sagemaker) == {"hitl-made-by-hand", "team-hitl-detector"} | names(theirs)

    assert report_of(guard.test()) == {"removed": [], "left": report["left"]}


def test_a_going_run_keeps_its_endpoint_until_its_deadline(aws, killed_run):
    run = killed_run(guard=True).test()

    assert run.state == "success"
    plan = plan_of(run)
    report = report_of(run)
    assert report["removed"] == []
    assert {verdict["name"] for verdict in report["left"]} == names(plan)
    assert all(
        f"run {plan.run_id} of DAG test_killed_run is still going" in verdict["reason"]
        for verdict in report["left"]
    )
    assert names(plan) <= remaining(aws.client("sagemaker"))


def test_a_going_run_past_its_deadline_loses_its_endpoint(aws, killed_run):
    run = killed_run(guard=True, deadline_seconds=1, pause_seconds=2).test()

    assert run.state == "success"
    plan = plan_of(run)
    report = report_of(run)
    assert {verdict["name"] for verdict in report["removed"]} == names(plan)
    assert all("has passed" in verdict["reason"] for verdict in report["removed"])
    assert not names(plan) & remaining(aws.client("sagemaker"))


def test_a_delete_that_fails_fails_the_guard_naming_what_still_bills(aws, killed_run, guard, capfd):
    plan = plan_of(killed_run().test())
    endpoint = plan.deployment.endpoint_name
    inject_fault(aws, "DeleteEndpoint", "AccessDeniedException", status=400, count=10)

    run = guard.test()

    assert run.state == "failed"
    log = capfd.readouterr().out
    assert f"Deleting SageMaker endpoint {endpoint} failed" in log
    assert f"aws sagemaker delete-endpoint --endpoint-name {endpoint}" in log
    # The rest was still tried: what the endpoint ran on is gone, the endpoint is named above.
    assert remaining(aws.client("sagemaker")) & names(plan) == {endpoint}
