"""SageMakerEndpointTeardownOperator.execute against the stand-in: what the run deployed is deleted,
endpoint first; what is gone already is fine; a delete that fails says what still bills and how to
delete it by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from support import deploy_by_hand, make_plan, task_context

from hitl_detection.operators.teardown import SageMakerEndpointLeftCheck, SageMakerEndpointTeardownOperator
from local_aws.stack import inject_fault
from local_aws.workflow import create_endpoint

pytestmark = pytest.mark.stack


def teardown(plan) -> dict:
    return SageMakerEndpointTeardownOperator(task_id="delete_endpoint", plan=plan.to_xcom()).execute(
        task_context()
    )


def remaining(sagemaker) -> tuple[list, list, list]:
    return (
        [endpoint["EndpointName"] for endpoint in sagemaker.list_endpoints()["Endpoints"]],
        [config["EndpointConfigName"] for config in sagemaker.list_endpoint_configs()["EndpointConfigs"]],
        [model["ModelName"] for model in sagemaker.list_models()["Models"]],
    )


def test_the_endpoint_its_config_and_the_model_are_deleted_in_that_order(aws, on_botocore_event):
    sagemaker = aws.client("sagemaker")
    plan = make_plan()
    deploy_by_hand(sagemaker, plan)
    order = []
    on_botocore_event("before-call.sagemaker", lambda model, **_: order.append(model.name))

    before = datetime.now(UTC)
    outcome = teardown(plan)

    # When the endpoint stopped billing, for the run's bill.
    billed_until = datetime.fromisoformat(outcome.pop("billed_until"))
    assert before <= billed_until <= datetime.now(UTC)
    assert outcome == {"endpoint": "deleted", "endpoint config": "deleted", "model": "deleted"}
    assert order == ["DeleteEndpoint", "DeleteEndpointConfig", "DeleteModel"]
    assert remaining(sagemaker) == ([], [], [])


def test_what_is_gone_already_is_fine(aws):
    sagemaker = aws.client("sagemaker")
    plan = make_plan()
    deploy_by_hand(sagemaker, plan)
    sagemaker.delete_endpoint(EndpointName=plan.deployment.endpoint_name)

    assert teardown(plan) == {"endpoint": "already gone", "endpoint config": "deleted", "model": "deleted"}
    assert teardown(plan) == dict.fromkeys(("endpoint", "endpoint config", "model"), "already gone")


def test_a_run_that_reused_an_endpoint_deletes_nothing(aws, count_calls):
    sagemaker = aws.client("sagemaker")
    create_endpoint(sagemaker, "team-detector")
    calls = count_calls("sagemaker")

    assert teardown(make_plan(endpoint_name="team-detector")) == {}
    assert sum(calls.values()) == 0
    assert remaining(sagemaker) == (["team-detector"], ["team-detector"], ["team-detector"])


def test_a_delete_that_fails_names_the_endpoint_still_billing_and_how_to_delete_it(aws):
    sagemaker = aws.client("sagemaker")
    plan = make_plan()
    deploy_by_hand(sagemaker, plan)
    name = plan.deployment.endpoint_name
    inject_fault(
        aws,
        "DeleteEndpoint",
        "AccessDeniedException",
        status=400,
        message="not authorized to perform: sagemaker:DeleteEndpoint",
    )

    with pytest.raises(AirflowException) as raised:
        teardown(plan)

    message = str(raised.value)
    assert message.startswith(f"Deleting SageMaker endpoint {name} failed: ")
    assert "AccessDeniedException" in message
    assert "It is still running and billing." in message
    assert message.endswith(f"Delete it with: aws sagemaker delete-endpoint --endpoint-name {name}")
    assert remaining(sagemaker)[0] == [name]


def test_a_config_that_cannot_be_deleted_is_named_with_its_own_command(aws):
    sagemaker = aws.client("sagemaker")
    plan = make_plan()
    deploy_by_hand(sagemaker, plan)
    name = plan.deployment.endpoint_config_name
    inject_fault(aws, "DeleteEndpointConfig", "AccessDeniedException", status=400)

    with pytest.raises(
        AirflowException,
        match=f"Delete it with: aws sagemaker delete-endpoint-config --endpoint-config-name {name}$",
    ) as raised:
        teardown(plan)

    assert "billing" not in str(raised.value)
    assert remaining(sagemaker)[0] == []


# The last check, run only when the teardown did not succeed


def check_left(plan) -> None:
    SageMakerEndpointLeftCheck(task_id="check_endpoint_deleted", plan=plan.to_xcom()).execute(task_context())


def test_what_a_failed_teardown_left_fails_the_run_naming_each_and_how_to_delete_it(aws):
    sagemaker = aws.client("sagemaker")
    plan = make_plan()
    deploy_by_hand(sagemaker, plan)
    sagemaker.delete_model(ModelName=plan.deployment.model_name)
    endpoint, config = plan.deployment.endpoint_name, plan.deployment.endpoint_config_name

    with pytest.raises(AirflowFailException) as raised:
        check_left(plan)

    assert str(raised.value) == (
        "The teardown failed (see delete_endpoint's log) and left what this run deployed: "
        f"SageMaker endpoint {endpoint} is still there. It is still running and billing. Delete it with: "
        f"aws sagemaker delete-endpoint --endpoint-name {endpoint}; "
        f"SageMaker endpoint config {config} is still there. Delete it with: "
        f"aws sagemaker delete-endpoint-config --endpoint-config-name {config}"
    )


def test_when_nothing_is_left_or_nothing_was_deployed_the_check_passes(aws, count_calls):
    check_left(make_plan())  # the teardown failed, but the deployment never got far, or was deleted by hand
    calls = count_calls("sagemaker")

    check_left(make_plan(endpoint_name="team-detector"))

    assert sum(calls.values()) == 0
