"""InvokeEndpoint through boto3: endpoints made in moto, detections from the simulated detector,
the real-time request limit, and the endpoint's capacity."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from stack_helpers import NO_RETRIES, ROLE_ARN

from local_aws.__main__ import parse_args
from local_aws.core.errors import ApiError
from local_aws.endpoint.detector import SimulatedDetector
from local_aws.endpoint.invoke_endpoint import EndpointInvoker
from local_aws.stack import inject_fault, start_stack
from local_aws.workflow import create_endpoint

SAMPLES = Path(__file__).resolve().parents[2] / "include" / "sample_images"


@pytest.fixture
def endpoint(clean_stack, sagemaker) -> str:
    return create_endpoint(sagemaker, "detector", role_arn=ROLE_ARN)


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.mark.stack
@pytest.mark.parametrize(
    ("image", "content_type"), [("street-01.jpg", "image/jpeg"), ("street-06.png", "image/png")]
)
def test_an_image_gets_gluoncv_detections(runtime, endpoint, image, content_type):
    body = (SAMPLES / image).read_bytes()

    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=body, ContentType=content_type, Accept="application/json"
    )

    assert answer["ContentType"] == "application/json"
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    detections = json.loads(answer["Body"].read())
    assert detections == SimulatedDetector().detect(body, content_type)
    assert detections
    assert set(detections[0]) == {"id", "score", "left", "top", "right", "bottom"}


@pytest.mark.stack
def test_custom_attributes_reach_the_detector(runtime, endpoint):
    body = (SAMPLES / "street-01.jpg").read_bytes()
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint, Body=body, ContentType="image/jpeg", CustomAttributes='{"threshold": 0.9}'
    )
    assert all(detection["score"] >= 0.9 for detection in json.loads(answer["Body"].read()))


@pytest.mark.stack
def test_an_unknown_or_deleted_endpoint_is_a_validation_error(runtime, sagemaker, endpoint):
    sagemaker.delete_endpoint(EndpointName=endpoint)
    for name in (endpoint, "never-made"):
        with pytest.raises(runtime.exceptions.ValidationError) as excinfo:
            runtime.invoke_endpoint(EndpointName=name, Body=b"x", ContentType="image/jpeg")
        assert error_of(excinfo) == ("ValidationError", 400)
        assert (
            excinfo.value.response["Error"]["Message"]
            == f"Endpoint {name} of account 123456789012 not found."
        )


@pytest.mark.stack
@pytest.mark.parametrize(
    ("body", "content_type", "original_status"),
    [
        (b"a,b\n1,2\n", "text/csv", 415),
        (b"not a jpeg", "image/jpeg", 400),
        ((SAMPLES / "street-06.png").read_bytes(), "image/jpeg", 400),
    ],
)
def test_what_the_model_refuses_is_a_model_error(runtime, endpoint, body, content_type, original_status):
    with pytest.raises(runtime.exceptions.ModelError) as excinfo:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType=content_type)
    response = excinfo.value.response
    assert error_of(excinfo) == ("ModelError", 424)
    assert response["OriginalStatusCode"] == original_status
    assert f"({original_status})" in response["Error"]["Message"]
    assert response["OriginalMessage"]
    assert response["LogStreamArn"].endswith("/aws/sagemaker/Endpoints/detector")


@pytest.mark.stack
def test_an_injected_fault_reaches_invoke_endpoint(stack, endpoint):
    runtime = stack.client("sagemaker-runtime", NO_RETRIES)
    inject_fault(stack, "InvokeEndpoint", "ModelNotReadyException")
    with pytest.raises(runtime.exceptions.ModelNotReadyException) as excinfo:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"x", ContentType="image/jpeg")
    assert error_of(excinfo) == ("ModelNotReadyException", 429)


def test_an_endpoint_that_is_not_in_service_is_a_validation_error():
    """moto makes every endpoint InService at once, so this case is checked without it."""
    invoker = EndpointInvoker(
        "us-east-1", lambda name: {"EndpointName": name, "EndpointStatus": "Creating"}, SimulatedDetector()
    )
    with pytest.raises(ApiError) as excinfo:
        invoker.invoke("detector", b"x", "image/jpeg", None)
    assert (excinfo.value.code, excinfo.value.status) == ("ValidationError", 400)
    assert "Creating, not InService" in excinfo.value.message


@pytest.mark.stack
def test_a_body_over_6_mb_is_refused_before_the_model_runs(runtime, endpoint):
    limit = 6 * 1024 * 1024
    with pytest.raises(runtime.exceptions.ValidationError) as excinfo:
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"x" * (limit + 1), ContentType="image/jpeg")
    assert error_of(excinfo) == ("ValidationError", 400)
    message = excinfo.value.response["Error"]["Message"]
    assert f"{limit + 1} bytes" in message
    assert f"{limit}-byte (6 MB) limit" in message

    # At the limit the model runs, and refuses bytes that are not an image.
    with pytest.raises(runtime.exceptions.ModelError):
        runtime.invoke_endpoint(EndpointName=endpoint, Body=b"x" * limit, ContentType="image/jpeg")


def test_the_endpoint_capacity_is_unlimited_unless_given_and_at_least_1(capsys):
    assert parse_args([]).endpoint_capacity is None
    assert parse_args(["--endpoint-capacity", "3"]).endpoint_capacity == 3
    with pytest.raises(SystemExit):
        parse_args(["--endpoint-capacity", "0"])
    assert "--endpoint-capacity 0 is below 1" in capsys.readouterr().err


@pytest.mark.stack
def test_the_model_serves_at_most_its_capacity_at_once_and_queues_the_rest(tmp_path):
    latency, capacity, calls = 0.2, 2, 6
    body = (SAMPLES / "street-01.jpg").read_bytes()
    options = ("--detector-latency", str(latency), "--endpoint-capacity", str(capacity))
    with start_stack(*options, log_path=tmp_path / "stack.log") as stack:
        endpoint = create_endpoint(stack.client("sagemaker"), "detector", role_arn=ROLE_ARN)
        clients = [stack.client("sagemaker-runtime", NO_RETRIES) for _ in range(calls)]
        together = threading.Barrier(calls)

        def invoke(runtime) -> tuple[float, float]:
            together.wait()
            started = time.monotonic()
            runtime.invoke_endpoint(EndpointName=endpoint, Body=body, ContentType="image/jpeg")
            return started, time.monotonic()

        with ThreadPoolExecutor(calls) as pool:
            timings = list(pool.map(invoke, clients))

    first_start = min(started for started, _ in timings)
    finished = sorted(ended - first_start for _, ended in timings)
    assert finished[-1] >= calls / capacity * latency
    # Each call holds a slot of the model for `latency` seconds: with at most `capacity` slots, no more
    # than `capacity` calls can have finished after one latency, 2 * capacity after two, and so on.
    for index, seconds in enumerate(finished):
        assert seconds >= (index // capacity + 1) * latency, finished
    # And the slots are all used: one at a time would take calls * latency.
    assert finished[-1] < calls * latency, finished
