"""The deploy operators' execute against the stand-in: model, endpoint config and endpoint made from
the plan, each once however often the task runs (but an endpoint an earlier try left Failed, made
again); nothing for a run that reuses an endpoint; the wait for InService deferred to
EndpointInServiceTrigger."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, timedelta

import pytest
from airflow.sdk.exceptions import AirflowException, TaskDeferred
from support import make_plan, rewrite_answers, task_context

from hitl_detection.domain.run_plan import VARIANT_NAME
from hitl_detection.operators.deploy import (
    ENDPOINT_DEADLINE,
    DeployEndpointConfigOperator,
    DeployEndpointOperator,
    DeployModelOperator,
)
from hitl_detection.triggers.endpoint import EndpointInServiceTrigger
from local_aws.stack import arm_endpoint_outcome
from local_aws.workflow import create_endpoint

pytestmark = pytest.mark.stack


def deploy_steps(plan) -> list:
    return [
        DeployModelOperator(task_id="deploy_model", plan=plan.to_xcom()),
        DeployEndpointConfigOperator(task_id="deploy_endpoint_config", plan=plan.to_xcom()),
        DeployEndpointOperator(task_id="deploy_endpoint", plan=plan.to_xcom(), check_interval=0.1),
    ]


def deploy(plan) -> list:
    return [step.execute(task_context()) for step in deploy_steps(plan)]


@pytest.fixture
def create_requests(on_botocore_event) -> dict[str, list[dict]]:
    """The parameters of every SageMaker Create* call, by operation (moto does not keep them all)."""
    sent: dict[str, list[dict]] = {}

    def record(params, model, **_):
        if model.name.startswith("Create"):
            sent.setdefault(model.name, []).append(params)

    on_botocore_event("provide-client-params.sagemaker", record)
    return sent


def test_model_config_and_endpoint_are_created_from_the_plan(aws, create_requests):
    plan = make_plan(instance_count=2, instance_type="ml.c5.xlarge")
    deployment = plan.deployment

    results = deploy(plan)

    created = aws.client("sagemaker").describe_endpoint(EndpointName=deployment.endpoint_name)["CreationTime"]
    assert results == [
        {"model": deployment.model_name},
        {"endpoint config": deployment.endpoint_config_name},
        # When the endpoint began to bill, for the run's bill.
        {"endpoint": deployment.endpoint_name, "billed_from": created.astimezone(UTC).isoformat()},
    ]
    [model] = create_requests["CreateModel"]
    assert model["EnableNetworkIsolation"] is True
    assert model["PrimaryContainer"] == {"ModelPackageName": plan.config.model_package_arn}
    assert model["ExecutionRoleArn"] == plan.config.execution_role_arn
    sagemaker = aws.client("sagemaker")
    [variant] = sagemaker.describe_endpoint_config(EndpointConfigName=deployment.endpoint_config_name)[
        "ProductionVariants"
    ]
    assert (variant["VariantName"], variant["ModelName"]) == (VARIANT_NAME, deployment.model_name)
    assert (variant["InitialInstanceCount"], variant["InstanceType"]) == (2, "ml.c5.xlarge")
    endpoint = sagemaker.describe_endpoint(EndpointName=deployment.endpoint_name)
    assert (endpoint["EndpointConfigName"], endpoint["EndpointStatus"]) == (
        deployment.endpoint_config_name,
        "InService",
    )


def test_a_second_execute_reuses_each_resource_without_creating_it_again(aws, count_calls):
    plan = make_plan()
    first = deploy(plan)
    calls = count_calls("sagemaker")

    again = deploy(plan)

    assert again == first
    assert not [name for name in calls if name.startswith(("Create", "Update"))]
    assert calls["DescribeEndpoint"] >= 1


def test_a_run_that_reuses_an_endpoint_deploys_nothing(aws, count_calls):
    create_endpoint(aws.client("sagemaker"), "team-detector")
    calls = count_calls("sagemaker")

    results = deploy(make_plan(endpoint_name="team-detector"))

    assert results == [None, None, None]
    assert sum(calls.values()) == 0
    assert [model["ModelName"] for model in aws.client("sagemaker").list_models()["Models"]] == [
        "team-detector"
    ]


def test_an_endpoint_not_yet_in_service_defers_to_the_trigger(aws, on_botocore_event):
    plan = make_plan()
    model, config, endpoint = deploy_steps(plan)
    model.execute(task_context())
    config.execute(task_context())
    rewrite_answers(on_botocore_event, "sagemaker", "DescribeEndpoint", EndpointStatus="Creating")

    with pytest.raises(TaskDeferred) as deferred:
        endpoint.execute(task_context())

    trigger = deferred.value.trigger
    assert isinstance(trigger, EndpointInServiceTrigger)
    assert (trigger.endpoint_name, trigger.poll_interval) == (plan.deployment.endpoint_name, 0.1)
    assert trigger.aws_conn_id == "aws_default"
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout > ENDPOINT_DEADLINE
    name = plan.deployment.endpoint_name
    created = aws.client("sagemaker").describe_endpoint(EndpointName=name)["CreationTime"]
    assert endpoint.execute_complete(task_context(), {"status": "success", "endpoint_name": name}) == {
        "endpoint": name,
        "billed_from": created.astimezone(UTC).isoformat(),
    }
    with pytest.raises(AirflowException, match="was still Creating"):
        endpoint.execute_complete(task_context(), {"status": "error", "message": "was still Creating"})


def test_an_endpoint_that_failed_raises_with_its_reason(aws, on_botocore_event):
    plan = make_plan()
    rewrite_answers(
        on_botocore_event,
        "sagemaker",
        "DescribeEndpoint",
        EndpointStatus="Failed",
        FailureReason="The model package is not subscribed in this account.",
    )

    with pytest.raises(
        AirflowException,
        match=f"endpoint {plan.deployment.endpoint_name} is Failed, expected InService: "
        "The model package is not subscribed",
    ):
        deploy(plan)


def test_an_endpoint_an_earlier_try_left_failed_is_deleted_and_created_again(aws, count_calls, capsys):
    plan = make_plan()
    name = plan.deployment.endpoint_name
    arm_endpoint_outcome(aws, "Failed", failure_reason="no ml.m4.xlarge capacity", deleting_seconds=0.3)
    model, config, endpoint = deploy_steps(plan)
    model.execute(task_context())
    config.execute(task_context())
    with pytest.raises(AirflowException, match=f"endpoint {name} is Failed, expected InService"):
        endpoint.execute(task_context())
    calls = count_calls("sagemaker")
    retry = deploy_steps(plan)[2]  # a retry is a new process

    again = retry.execute(task_context())

    assert {operation: calls[operation] for operation in calls if not operation.startswith("Describe")} == {
        "DeleteEndpoint": 1,
        "CreateEndpoint": 1,  # the endpoint only: its config and model are reused
    }
    log = capsys.readouterr().out
    assert f"Endpoint {name} is Deleting." in log  # created again only once it was gone
    assert (
        f"Endpoint {name} was Failed from an earlier try (no ml.m4.xlarge capacity): "
        "deleted, creating it again." in log
    )
    described = aws.client("sagemaker").describe_endpoint(EndpointName=name)
    assert described["EndpointStatus"] == "InService"
    assert again == {"endpoint": name, "billed_from": described["CreationTime"].astimezone(UTC).isoformat()}


def test_a_failed_endpoint_whose_deletion_outlasts_its_deadline_fails_the_try(aws, monkeypatch):
    plan = make_plan()
    name = plan.deployment.endpoint_name
    arm_endpoint_outcome(aws, "Failed", deleting_seconds=30)
    model, config, endpoint = deploy_steps(plan)
    model.execute(task_context())
    config.execute(task_context())
    with pytest.raises(AirflowException, match="is Failed"):
        endpoint.execute(task_context())
    monkeypatch.setattr("hitl_detection.operators.deploy.ENDPOINT_DELETE_DEADLINE", timedelta(seconds=0.3))

    with pytest.raises(
        AirflowException, match=f"endpoint {name} was still Deleting 0.3s after DeleteEndpoint"
    ):
        deploy_steps(plan)[2].execute(task_context())


def first_event(trigger: EndpointInServiceTrigger) -> dict:
    async def run():
        return await anext(trigger.run())

    return asyncio.run(run()).payload


def trigger_for(name: str, deadline: str = "2100-01-01T00:00:00+00:00") -> EndpointInServiceTrigger:
    return EndpointInServiceTrigger(endpoint_name=name, deadline=deadline, poll_interval=0.05)


def test_the_trigger_reports_an_endpoint_in_service(aws):
    create_endpoint(aws.client("sagemaker"), "team-detector")

    assert first_event(trigger_for("team-detector")) == {
        "status": "success",
        "endpoint_name": "team-detector",
    }


def test_the_trigger_gives_up_at_its_deadline_and_reports_errors(aws, on_botocore_event, count_calls):
    create_endpoint(aws.client("sagemaker"), "team-detector")
    rewrite_answers(on_botocore_event, "sagemaker", "DescribeEndpoint", EndpointStatus="Creating")
    calls: Counter = count_calls("sagemaker")

    timed_out = first_event(trigger_for("team-detector", deadline="2026-01-01T00:00:00+00:00"))
    missing = first_event(trigger_for("no-such-endpoint"))

    assert timed_out == {
        "status": "error",
        "message": "endpoint team-detector was still Creating at 2026-01-01T00:00:00+00:00; "
        "expected InService",
    }
    assert missing["status"] == "error"
    assert "Could not find endpoint" in missing["message"]
    assert calls["DescribeEndpoint"] == 2


def test_the_trigger_serializes_to_its_importable_path_and_back():
    trigger = trigger_for("team-detector")

    classpath, kwargs = trigger.serialize()

    assert classpath == "hitl_detection.triggers.endpoint.EndpointInServiceTrigger"
    assert EndpointInServiceTrigger(**kwargs).serialize() == (classpath, kwargs)
