"""The stand-in's outages and slow endpoints, as the fault matrix (tests/faults) arms them: faults
that let calls through first, last for a time, take turns, slow calls down, and end on request;
endpoints that are Creating for a while and then InService or Failed."""

from __future__ import annotations

import time

import pytest
import requests
from botocore.exceptions import ClientError
from stack_helpers import NO_RETRIES

from local_aws.stack import arm_endpoint_outcome, clear_faults, inject_fault
from local_aws.workflow import create_endpoint


def outcome_of(call) -> str:
    """ "ok", or the error code of a call."""
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    return "ok"


def test_a_fault_lets_calls_through_first_then_fails_for_a_time_then_the_next_takes_its_turn(clean_stack):
    sagemaker = clean_stack.client("sagemaker", NO_RETRIES)
    inject_fault(clean_stack, "ListEndpoints", "ThrottlingException", after=2, seconds=0.5)
    inject_fault(clean_stack, "ListEndpoints", "InternalFailure", count=1)

    seen = [outcome_of(sagemaker.list_endpoints) for _ in range(3)]
    time.sleep(0.6)
    seen += [outcome_of(sagemaker.list_endpoints) for _ in range(2)]

    assert seen == ["ok", "ok", "ThrottlingException", "InternalFailure", "ok"]


def test_a_fault_without_an_error_slows_calls_down(clean_stack):
    sagemaker = clean_stack.client("sagemaker", NO_RETRIES)
    inject_fault(clean_stack, "ListEndpoints", None, delay_seconds=0.3, count=1)

    started = time.monotonic()
    sagemaker.list_endpoints()
    slowed = time.monotonic() - started
    started = time.monotonic()
    sagemaker.list_endpoints()

    assert slowed >= 0.3 > time.monotonic() - started


def test_clearing_the_faults_ends_an_outage_and_keeps_everything_else(clean_stack):
    sagemaker = clean_stack.client("sagemaker", NO_RETRIES)
    create_endpoint(sagemaker, "detector")
    inject_fault(clean_stack, "ListEndpoints", "ServiceUnavailable", count=1000)
    assert outcome_of(sagemaker.list_endpoints) == "ServiceUnavailable"

    clear_faults(clean_stack)

    assert [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]] == ["detector"]


def test_an_armed_endpoint_is_creating_then_failed_with_its_reason(clean_stack):
    sagemaker = clean_stack.client("sagemaker", NO_RETRIES)
    arm_endpoint_outcome(
        clean_stack, "Failed", failure_reason="no ml.m4.xlarge capacity", creating_seconds=0.3
    )

    create_endpoint(sagemaker, "detector")
    creating = sagemaker.describe_endpoint(EndpointName="detector")
    time.sleep(0.5)
    failed = sagemaker.describe_endpoint(EndpointName="detector")
    create_endpoint(sagemaker, "next-one")  # the outcome was for one endpoint

    assert creating["EndpointStatus"] == "Creating"
    assert (failed["EndpointStatus"], failed["FailureReason"]) == ("Failed", "no ml.m4.xlarge capacity")
    assert sagemaker.describe_endpoint(EndpointName="next-one")["EndpointStatus"] == "InService"


def test_an_endpoint_is_deleting_for_its_armed_time_and_its_name_is_taken_until_it_is_gone(clean_stack):
    sagemaker = clean_stack.client("sagemaker", NO_RETRIES)
    arm_endpoint_outcome(clean_stack, "Failed", deleting_seconds=0.5)
    create_endpoint(sagemaker, "detector")

    sagemaker.delete_endpoint(EndpointName="detector")  # as SageMaker allows on a Failed endpoint
    deleting = sagemaker.describe_endpoint(EndpointName="detector")
    with pytest.raises(ClientError) as taken:  # moto would replace it; SageMaker refuses
        sagemaker.create_endpoint(EndpointName="detector", EndpointConfigName="detector")
    time.sleep(0.8)

    assert deleting["EndpointStatus"] == "Deleting"
    assert taken.value.response["Error"]["Code"] == "ValidationException"
    assert f'Cannot create already existing endpoint "{deleting["EndpointArn"]}"' in str(taken.value)
    with pytest.raises(ClientError, match="Could not find endpoint"):
        sagemaker.describe_endpoint(EndpointName="detector")
    sagemaker.create_endpoint(EndpointName="detector", EndpointConfigName="detector")  # free again
    assert sagemaker.describe_endpoint(EndpointName="detector")["EndpointStatus"] == "InService"


def test_create_endpoint_passes_on_what_moto_refuses(clean_stack):
    sagemaker = clean_stack.client("sagemaker", NO_RETRIES)
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_endpoint(EndpointName="detector", EndpointConfigName="missing")
    error = excinfo.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ValidationException",
        400,
    )
    assert "Could not find endpoint configuration" in error["Error"]["Message"]


@pytest.mark.parametrize(
    "body",
    [
        {"status": "Deleting"},
        {"status": "Failed", "creating_seconds": -1},
        {"status": "Failed", "deleting_seconds": "soon"},
        {"status": "InService", "count": 0},
        [],
    ],
)
def test_a_malformed_endpoint_outcome_is_refused(clean_stack, body):
    refused = requests.post(f"{clean_stack.emulator_url}/_emulator/endpoint-outcomes", json=body, timeout=5)
    assert refused.status_code == 400
    assert refused.json()["error"] == "ValidationException"
