"""RemoveLeftoverEndpointsOperator in real DAG runs against the stand-in: what a run killed before
its teardown left is removed (a transform job still running is stopped) once the run is over, or
once its deadline has passed while the run still goes; what is untagged or another deployment's is
left, and said why."""

from __future__ import annotations

import json
import time

import pytest
from support import BUCKET, DAG_ID, INPUT_PREFIX, deploy_by_hand, make_plan, put_images, run_params, sample

from hitl_detection.domain.run_owner import DeploymentIdentity
from hitl_detection.domain.run_plan import RunPlan
from hitl_detection.operators.cost_guard import stop_transform_job
from local_aws.stack import inject_fault
from local_aws.workflow import create_endpoint

pytestmark = pytest.mark.stack

# A detect_and_review run killed before its teardown: it plans and deploys, and then stops, with
# the cost guard in the same run when GUARD (after a pause, for the deadline to pass). In transform
# mode it lists its images and starts its transform job, and its worker is lost as it would wait.
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
from hitl_detection.operators.detect import DetectObjectsOperator
from hitl_detection.operators.list_images import ListImagesOperator
from hitl_detection.operators.plan import PlanRunOperator

OPTIONS = json.loads(OPTIONS_JSON)


# Its worker is lost once the transform job runs: nothing waits for the job.
class DetectObjectsLostAtTheWait(DetectObjectsOperator):
    def defer(self, **kwargs):
        pass


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
    if OPTIONS["params"].get("inference") == "batch_transform":
        steps += [
            ListImagesOperator(task_id="list_images", plan=plan.output),
            DetectObjectsLostAtTheWait(task_id="detect_objects", plan=plan.output),
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
    """`killed_run(...).test()`: a run that deployed and never tore down; `params` override the
    run's (inference `batch_transform`: it starts its transform job too)."""

    def make(*, guard: bool = False, deadline_seconds: int = 86400, pause_seconds: float = 0, **params):
        options = {
            "params": run_params(**params),
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


def running_jobs(sagemaker) -> set[str]:
    pages = sagemaker.get_paginator("list_transform_jobs").paginate(StatusEquals="InProgress")
    return {job["TransformJobName"] for page in pages for job in page["TransformJobSummaries"]}


@pytest.fixture
def slow_jobs(aws, bucket):
    """`slow_jobs(count)`: the run's image in S3, and the next `count` transform jobs InProgress for
    a minute (their instances take their time), longer than the runs of a test."""

    def arm(count: int = 1) -> None:
        put_images(aws.client("s3"), {"a.jpg": sample("street-01.jpg")})
        inject_fault(aws, "RunTransformJob", None, delay_seconds=60, count=count)

    return arm


def job_by_hand(sagemaker) -> str:
    """A transform job over the run's images on a model made by hand (`hitl-made-by-hand`, with an
    endpoint config and endpoint of that name), all untagged; returns the job's name."""
    create_endpoint(sagemaker, "hitl-made-by-hand")
    source = {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{INPUT_PREFIX}"}}
    sagemaker.create_transform_job(
        TransformJobName="hitl-made-by-hand-jpeg-1",
        ModelName="hitl-made-by-hand",
        TransformInput={"DataSource": source, "ContentType": "image/jpeg"},
        TransformOutput={"S3OutputPath": f"s3://{BUCKET}/by-hand/"},
        TransformResources={"InstanceType": "ml.m4.xlarge", "InstanceCount": 1},
    )
    return "hitl-made-by-hand-jpeg-1"


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


def test_a_transform_run_killed_while_its_job_runs_has_the_job_stopped_and_the_model_deleted(
    aws, killed_run, guard, slow_jobs
):
    sagemaker = aws.client("sagemaker")
    slow_jobs(count=2)
    by_hand = job_by_hand(sagemaker)

    killed = killed_run(inference="batch_transform").test()
    assert killed.state == "success"
    plan = plan_of(killed)
    (job,) = running_jobs(sagemaker) - {by_hand}

    run = guard.test()

    assert run.state == "success"
    report = report_of(run)
    over = f"run {plan.run_id} of DAG test_killed_run is over"
    assert report["removed"] == [
        {"kind": "transform job", "name": job, "reason": over, "outcome": "stopped"},
        {"kind": "model", "name": plan.deployment.model_name, "reason": over, "outcome": "deleted"},
    ]
    left = {(verdict["kind"], verdict["name"]): verdict["reason"] for verdict in report["left"]}
    assert set(left) == {
        ("transform job", by_hand),
        ("endpoint", "hitl-made-by-hand"),
        ("endpoint config", "hitl-made-by-hand"),
        ("model", "hitl-made-by-hand"),
    }
    assert left["transform job", by_hand].startswith("it has no hitl-detection tags")
    assert sagemaker.describe_transform_job(TransformJobName=job)["TransformJobStatus"] == "Stopping"
    assert running_jobs(sagemaker) == {by_hand}
    assert plan.deployment.model_name not in remaining(sagemaker)


def test_a_going_transform_run_keeps_its_running_job_and_model_until_its_deadline(aws, killed_run, slow_jobs):
    slow_jobs()

    run = killed_run(guard=True, inference="batch_transform").test()

    assert run.state == "success"
    plan = plan_of(run)
    report = report_of(run)
    assert report["removed"] == []
    (job,) = running_jobs(aws.client("sagemaker"))
    assert [(verdict["kind"], verdict["name"]) for verdict in report["left"]] == [
        ("transform job", job),
        ("model", plan.deployment.model_name),
    ]
    assert all(
        f"run {plan.run_id} of DAG test_killed_run is still going" in verdict["reason"]
        for verdict in report["left"]
    )
    assert plan.deployment.model_name in remaining(aws.client("sagemaker"))


def test_a_stop_that_fails_fails_the_guard_naming_the_job_and_the_rest_still_goes(
    aws, killed_run, guard, slow_jobs, capfd
):
    slow_jobs()
    plan = plan_of(killed_run(inference="batch_transform").test())
    (job,) = running_jobs(aws.client("sagemaker"))
    inject_fault(aws, "StopTransformJob", "AccessDeniedException", status=400, count=10)

    run = guard.test()

    assert run.state == "failed"
    log = capfd.readouterr().out
    assert f"Stopping SageMaker transform job {job} failed" in log
    assert f"aws sagemaker stop-transform-job --transform-job-name {job}" in log
    assert running_jobs(aws.client("sagemaker")) == {job}
    assert plan.deployment.model_name not in remaining(aws.client("sagemaker"))


def test_a_job_that_ended_since_it_was_listed_is_already_ended(aws, bucket):
    sagemaker = aws.client("sagemaker")
    put_images(aws.client("s3"), {"a.jpg": sample("street-01.jpg")})
    job = job_by_hand(sagemaker)
    deadline = time.monotonic() + 30
    while sagemaker.describe_transform_job(TransformJobName=job)["TransformJobStatus"] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.05)

    assert stop_transform_job(sagemaker, job) == "already ended"
