"""The Amazon provider's hooks reach moto and the emulator through `aws_default` as printed by the stack."""

import json
from pathlib import Path

import pytest
import requests
from stack_helpers import OUTPUT_BUCKET, ROLE_ARN, TEMPLATE, answer, task_input

from local_aws.workflow import create_active_flow_definition

pytestmark = pytest.mark.stack

SAMPLE = Path(__file__).resolve().parents[2] / "include" / "sample_images" / "street-01.jpg"


@pytest.fixture
def aws_default(airflow_home, clean_stack, monkeypatch):
    """`aws_default` from the stack's first line, the way a user exports it."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", clean_stack.conn_uri_env)
    return clean_stack


def test_the_connection_routes_each_service(aws_default):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    assert SageMakerHook().conn.meta.endpoint_url == aws_default.emulator_url
    for service in ("sagemaker-a2i-runtime", "sagemaker-runtime"):
        assert AwsBaseHook(client_type=service).conn.meta.endpoint_url == aws_default.emulator_url
    assert AwsBaseHook(client_type="s3").conn.meta.endpoint_url == aws_default.moto_url


def test_a_review_round_trip_through_the_provider_hooks(aws_default):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    sagemaker = SageMakerHook().conn
    s3 = S3Hook()
    s3.create_bucket(OUTPUT_BUCKET)
    flow_arn = create_active_flow_definition(
        sagemaker, name="review", template=TEMPLATE, s3_output_path=f"s3://{OUTPUT_BUCKET}/reviews"
    )
    a2i = AwsBaseHook(client_type="sagemaker-a2i-runtime").conn
    a2i.start_human_loop(
        HumanLoopName="loop-1",
        FlowDefinitionArn=flow_arn,
        HumanLoopInput={"InputContent": json.dumps(task_input())},
    )
    requests.post(
        f"{aws_default.emulator_url}/reviewer/loops/loop-1/answers", json=answer(), timeout=10
    ).raise_for_status()

    [summary] = a2i.list_human_loops(FlowDefinitionArn=flow_arn)["HumanLoopSummaries"]
    assert summary["HumanLoopStatus"] == "Completed"
    output_uri = a2i.describe_human_loop(HumanLoopName="loop-1")["HumanLoopOutput"]["OutputS3Uri"]
    bucket, key = S3Hook.parse_s3_url(output_uri)
    assert json.loads(s3.read_key(key, bucket))["humanAnswers"][0]["workerId"] == "worker-1"


def test_an_endpoint_made_with_the_sagemaker_hook_answers_invoke_endpoint(aws_default):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook

    hook = SageMakerHook()
    hook.create_model(
        {
            "ModelName": "detector",
            "PrimaryContainer": {
                "ModelPackageName": "arn:aws:sagemaker:us-east-1:865070037744:model-package/gluoncv"
            },
            "ExecutionRoleArn": ROLE_ARN,
            "EnableNetworkIsolation": True,
        }
    )
    hook.create_endpoint_config(
        {
            "EndpointConfigName": "detector",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "detector",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m4.xlarge",
                }
            ],
        }
    )
    hook.create_endpoint(
        {"EndpointName": "detector", "EndpointConfigName": "detector"}, wait_for_completion=False
    )
    assert hook.describe_endpoint("detector")["EndpointStatus"] == "InService"

    runtime = AwsBaseHook(client_type="sagemaker-runtime").conn
    answer_ = runtime.invoke_endpoint(
        EndpointName="detector", Body=SAMPLE.read_bytes(), ContentType="image/jpeg"
    )
    detections = json.loads(answer_["Body"].read())
    assert detections
    assert {"id", "score", "left", "top", "right", "bottom"} <= set(detections[0])
