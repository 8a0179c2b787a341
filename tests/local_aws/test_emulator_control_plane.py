"""The A2I calls of the SageMaker control plane, and the pass-through of every other call to moto."""

import time

import pytest
import requests
from botocore.exceptions import ClientError
from stack_helpers import (
    FLOW_ACTIVATION_SECONDS,
    NO_RETRIES,
    OUTPUT_BUCKET,
    ROLE_ARN,
    TEMPLATE,
    WORKTEAM_ARN,
)

from local_aws.stack import inject_fault

pytestmark = pytest.mark.stack


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def flow_request(task_ui_arn: str, name: str = "review-boxes", **config) -> dict:
    return {
        "FlowDefinitionName": name,
        "RoleArn": ROLE_ARN,
        "OutputConfig": {"S3OutputPath": f"s3://{OUTPUT_BUCKET}/reviews"},
        "HumanLoopConfig": {
            "WorkteamArn": WORKTEAM_ARN,
            "HumanTaskUiArn": task_ui_arn,
            "TaskTitle": "Review the boxes",
            "TaskDescription": "Fix the boxes the model drew",
            "TaskCount": 1,
            **config,
        },
    }


# Human task UIs


def test_a_human_task_ui_is_created_described_listed_and_deleted(clean_stack, sagemaker):
    arn = sagemaker.create_human_task_ui(HumanTaskUiName="boxes", UiTemplate={"Content": TEMPLATE})[
        "HumanTaskUiArn"
    ]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:human-task-ui/boxes"

    described = sagemaker.describe_human_task_ui(HumanTaskUiName="boxes")
    assert described["HumanTaskUiStatus"] == "Active"
    assert described["HumanTaskUiArn"] == arn
    assert requests.get(described["UiTemplate"]["Url"], timeout=5).text == TEMPLATE
    assert len(described["UiTemplate"]["ContentSha256"]) == 64
    listed = sagemaker.list_human_task_uis()["HumanTaskUiSummaries"]
    assert [ui["HumanTaskUiName"] for ui in listed] == ["boxes"]

    sagemaker.delete_human_task_ui(HumanTaskUiName="boxes")
    assert sagemaker.list_human_task_uis()["HumanTaskUiSummaries"] == []
    with pytest.raises(ClientError) as excinfo:
        sagemaker.describe_human_task_ui(HumanTaskUiName="boxes")
    assert error_of(excinfo)[0] == "ResourceNotFound"
    assert requests.get(described["UiTemplate"]["Url"], timeout=5).status_code == 404


def test_a_human_task_ui_name_is_unique(clean_stack, sagemaker):
    sagemaker.create_human_task_ui(HumanTaskUiName="boxes", UiTemplate={"Content": TEMPLATE})
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_human_task_ui(HumanTaskUiName="boxes", UiTemplate={"Content": TEMPLATE})
    code, message, status = error_of(excinfo)
    assert (code, status) == ("ResourceInUse", 400)
    assert "human-task-ui/boxes" in message


@pytest.mark.parametrize(
    ("name", "content", "field"),
    [
        ("Boxes", TEMPLATE, "HumanTaskUiName"),
        ("b" * 64, TEMPLATE, "HumanTaskUiName"),
        ("boxes-", TEMPLATE, "HumanTaskUiName"),
        ("boxes", "x" * 128_001, "UiTemplate.Content"),
    ],
)
def test_a_human_task_ui_is_validated(clean_stack, sagemaker, name, content, field):
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_human_task_ui(HumanTaskUiName=name, UiTemplate={"Content": content})
    code, message, _ = error_of(excinfo)
    assert code == "ValidationException"
    assert f"at '{field}'" in message


def test_deleting_an_unknown_human_task_ui_is_not_found(clean_stack, sagemaker):
    with pytest.raises(sagemaker.exceptions.ResourceNotFound):
        sagemaker.delete_human_task_ui(HumanTaskUiName="nothing")


def test_human_task_uis_page_by_creation_time(clean_stack, sagemaker):
    for index in range(5):
        sagemaker.create_human_task_ui(HumanTaskUiName=f"ui-{index}", UiTemplate={"Content": TEMPLATE})
        time.sleep(0.002)
    pages = sagemaker.get_paginator("list_human_task_uis").paginate(
        SortOrder="Ascending", PaginationConfig={"PageSize": 2}
    )
    names = [[ui["HumanTaskUiName"] for ui in page["HumanTaskUiSummaries"]] for page in pages]
    assert names == [["ui-0", "ui-1"], ["ui-2", "ui-3"], ["ui-4"]]

    third = sagemaker.describe_human_task_ui(HumanTaskUiName="ui-2")["CreationTime"]
    after = sagemaker.list_human_task_uis(CreationTimeAfter=third, SortOrder="Ascending")
    assert [ui["HumanTaskUiName"] for ui in after["HumanTaskUiSummaries"]] == ["ui-2", "ui-3", "ui-4"]
    before = sagemaker.list_human_task_uis(CreationTimeBefore=third)
    assert [ui["HumanTaskUiName"] for ui in before["HumanTaskUiSummaries"]] == ["ui-1", "ui-0"]


# Flow definitions


def test_a_flow_definition_initializes_then_turns_active(clean_stack, sagemaker, s3, task_ui_arn):
    arn = sagemaker.create_flow_definition(**flow_request(task_ui_arn))["FlowDefinitionArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/review-boxes"

    described = sagemaker.describe_flow_definition(FlowDefinitionName="review-boxes")
    assert described["FlowDefinitionStatus"] == "Initializing"
    assert described["HumanLoopConfig"]["TaskTimeLimitInSeconds"] == 3600
    assert described["HumanLoopConfig"]["HumanTaskUiArn"] == task_ui_arn
    assert described["OutputConfig"] == {"S3OutputPath": f"s3://{OUTPUT_BUCKET}/reviews"}
    assert described["RoleArn"] == ROLE_ARN

    time.sleep(FLOW_ACTIVATION_SECONDS + 0.05)
    assert (
        sagemaker.describe_flow_definition(FlowDefinitionName="review-boxes")["FlowDefinitionStatus"]
        == "Active"
    )
    summaries = sagemaker.list_flow_definitions()["FlowDefinitionSummaries"]
    assert [(f["FlowDefinitionArn"], f["FlowDefinitionStatus"]) for f in summaries] == [(arn, "Active")]


def test_a_flow_definition_name_is_unique(clean_stack, sagemaker, task_ui_arn):
    sagemaker.create_flow_definition(**flow_request(task_ui_arn))
    with pytest.raises(sagemaker.exceptions.ResourceInUse):
        sagemaker.create_flow_definition(**flow_request(task_ui_arn))


def test_a_flow_definition_is_deleted(clean_stack, sagemaker, task_ui_arn):
    sagemaker.create_flow_definition(**flow_request(task_ui_arn))
    sagemaker.delete_flow_definition(FlowDefinitionName="review-boxes")
    assert sagemaker.list_flow_definitions()["FlowDefinitionSummaries"] == []
    for call in (sagemaker.describe_flow_definition, sagemaker.delete_flow_definition):
        with pytest.raises(ClientError) as excinfo:
            call(FlowDefinitionName="review-boxes")
        assert error_of(excinfo)[:1] == ("ResourceNotFound",)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"FlowDefinitionName": "Review"}, "FlowDefinitionName"),
        ({"RoleArn": "arn:aws:iam::123:role/short"}, "RoleArn"),
        ({"OutputConfig": {"S3OutputPath": "a2i-output/reviews"}}, "OutputConfig.S3OutputPath"),
        (
            {"OutputConfig": {"S3OutputPath": "https://a2i-output.s3.amazonaws.com/r"}},
            "OutputConfig.S3OutputPath",
        ),
        ({"HumanLoopConfig": {"TaskCount": 4}}, "HumanLoopConfig.TaskCount"),
        ({"HumanLoopConfig": {"TaskTimeLimitInSeconds": 29}}, "HumanLoopConfig.TaskTimeLimitInSeconds"),
        (
            {"HumanLoopConfig": {"WorkteamArn": "arn:aws:sagemaker:us-east-1:1:workteam/x"}},
            "HumanLoopConfig.WorkteamArn",
        ),
        ({"HumanLoopConfig": {"TaskTitle": "t" * 129}}, "HumanLoopConfig.TaskTitle"),
        ({"HumanLoopConfig": {"TaskDescription": "d" * 256}}, "HumanLoopConfig.TaskDescription"),
        (
            {"HumanLoopConfig": {"TaskKeywords": ["a", "b", "c", "d", "e", "f"]}},
            "HumanLoopConfig.TaskKeywords",
        ),
        ({"HumanLoopConfig": {"TaskKeywords": ["bad-keyword"]}}, "HumanLoopConfig.TaskKeywords.1.member"),
        (
            {
                "HumanLoopConfig": {
                    "HumanTaskUiArn": "arn:aws:sagemaker:us-east-1:123456789012:human-task-ui/gone"
                }
            },
            "HumanLoopConfig.HumanTaskUiArn",
        ),
        ({"HumanLoopConfig": None}, "HumanLoopConfig"),
    ],
)
def test_a_flow_definition_is_validated(clean_stack, raw_sagemaker, task_ui_arn, change, field):
    request = flow_request(task_ui_arn)
    for key, value in change.items():
        request[key] = {**request[key], **value} if key == "HumanLoopConfig" and value else value
    request = {key: value for key, value in request.items() if value is not None}
    with pytest.raises(ClientError) as excinfo:
        raw_sagemaker.create_flow_definition(**request)
    code, message, status = error_of(excinfo)
    assert (code, status) == ("ValidationException", 400)
    assert field in message


def test_flow_definitions_page(clean_stack, sagemaker, task_ui_arn):
    for index in range(3):
        sagemaker.create_flow_definition(**flow_request(task_ui_arn, name=f"flow-{index}"))
    pages = list(sagemaker.get_paginator("list_flow_definitions").paginate(PaginationConfig={"PageSize": 2}))
    names = [[f["FlowDefinitionName"] for f in page["FlowDefinitionSummaries"]] for page in pages]
    assert names == [["flow-2", "flow-1"], ["flow-0"]]
    with pytest.raises(ClientError) as excinfo:
        sagemaker.list_flow_definitions(NextToken="not-a-token")
    assert error_of(excinfo)[0] == "ValidationException"


def test_a_fault_makes_create_flow_definition_fail_like_iam_propagation(clean_stack, stack, task_ui_arn):

    sagemaker = stack.client("sagemaker", NO_RETRIES)
    inject_fault(stack, "CreateFlowDefinition", "ValidationException", message="Role is not yet assumable")
    with pytest.raises(ClientError) as excinfo:
        sagemaker.create_flow_definition(**flow_request(task_ui_arn))
    assert error_of(excinfo) == ("ValidationException", "Role is not yet assumable", 400)
    assert sagemaker.create_flow_definition(**flow_request(task_ui_arn))["FlowDefinitionArn"]


# Everything else goes to moto


def test_model_endpoint_calls_pass_through_to_moto(clean_stack, sagemaker):
    sagemaker.create_model(
        ModelName="detector",
        PrimaryContainer={
            "ModelPackageName": "arn:aws:sagemaker:us-east-1:865070037744:model-package/gluoncv"
        },
        ExecutionRoleArn=ROLE_ARN,
        EnableNetworkIsolation=True,
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName="detector-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "detector",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m4.xlarge",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName="detector", EndpointConfigName="detector-config")
    sagemaker.get_waiter("endpoint_in_service").wait(EndpointName="detector")
    assert [e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]] == ["detector"]

    sagemaker.delete_endpoint(EndpointName="detector")
    with pytest.raises(ClientError) as excinfo:
        sagemaker.describe_endpoint(EndpointName="detector")
    code, message, _ = error_of(excinfo)
    assert code == "ValidationException"
    assert "Could not find endpoint" in message


def test_a_fault_applies_to_a_passed_through_call(clean_stack, stack):

    sagemaker = stack.client("sagemaker", NO_RETRIES)
    inject_fault(stack, "ListEndpoints", "ThrottlingException", count=2)
    for _ in range(2):
        with pytest.raises(ClientError) as excinfo:
            sagemaker.list_endpoints()
        assert error_of(excinfo)[::2] == ("ThrottlingException", 429)
    assert sagemaker.list_endpoints()["Endpoints"] == []


def test_an_unknown_target_is_refused_in_json_1_1(clean_stack, stack):
    answer = requests.post(
        stack.emulator_url,
        data="{}",
        headers={"X-Amz-Target": "Other.Thing", "Content-Type": "application/x-amz-json-1.1"},
        timeout=5,
    )
    assert answer.status_code == 400
    assert answer.json()["__type"] == "UnknownOperationException"


def test_a_body_that_is_not_a_json_object_is_refused(clean_stack):
    answer = requests.post(
        clean_stack.emulator_url,
        data="[]",
        headers={"X-Amz-Target": "SageMaker.CreateHumanTaskUi", "Content-Type": "application/x-amz-json-1.1"},
        timeout=5,
    )
    assert (answer.status_code, answer.json()["__type"]) == (400, "SerializationException")
