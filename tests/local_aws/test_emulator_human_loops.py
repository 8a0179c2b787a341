"""The sagemaker-a2i-runtime API through boto3: every operation, status and error."""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from botocore.exceptions import ClientError
from stack_helpers import NO_RETRIES, answer, task_input

from local_aws.stack import inject_fault

pytestmark = pytest.mark.stack

UNKNOWN_FLOW = "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/unknown"


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def post_answer(stack, name: str, body: dict) -> requests.Response:
    return requests.post(f"{stack.emulator_url}/reviewer/loops/{name}/answers", json=body, timeout=10)


def test_a_loop_starts_in_progress_and_is_described(a2i, flow_arn, start_loop):
    before = time.time()
    start_loop("loop-1")

    described = a2i.describe_human_loop(HumanLoopName="loop-1")

    assert described["HumanLoopStatus"] == "InProgress"
    assert described["HumanLoopArn"] == "arn:aws:sagemaker:us-east-1:123456789012:human-loop/loop-1"
    assert described["FlowDefinitionArn"] == flow_arn
    assert before - 1 <= described["CreationTime"].timestamp() <= time.time() + 1
    assert "HumanLoopOutput" not in described
    assert "FailureCode" not in described


def test_the_same_name_and_input_return_the_same_loop(a2i, flow_arn, start_loop):
    start_loop("loop-1")
    again = a2i.start_human_loop(
        HumanLoopName="loop-1",
        FlowDefinitionArn=flow_arn,
        HumanLoopInput={"InputContent": json.dumps(task_input())},
    )
    assert again["HumanLoopArn"].endswith(":human-loop/loop-1")
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_the_same_name_with_another_input_conflicts(a2i, flow_arn, start_loop):
    start_loop("loop-1")
    with pytest.raises(a2i.exceptions.ConflictException) as excinfo:
        a2i.start_human_loop(
            HumanLoopName="loop-1",
            FlowDefinitionArn=flow_arn,
            HumanLoopInput={"InputContent": json.dumps(task_input(labels=["bus"]))},
        )
    assert error_of(excinfo) == ("ConflictException", 409)


@pytest.mark.parametrize(
    ("name", "flow", "content", "words"),
    [
        ("Loop-1", None, "{}", "HumanLoopName"),
        ("loop_1", None, "{}", "HumanLoopName"),
        ("-loop", None, "{}", "HumanLoopName"),
        ("l" * 64, None, "{}", "HumanLoopName"),
        ("loop-1", "arn:aws:sagemaker:us-east-1:123456789012:workteam/x", "{}", "FlowDefinitionArn"),
        ("loop-1", UNKNOWN_FLOW, "{}", "does not exist"),
        ("loop-1", None, "{not json", "not valid JSON"),
        ("loop-1", None, '"' + "x" * 3_145_727 + '"', "HumanLoopInput.InputContent"),
    ],
)
def test_a_start_is_validated(a2i, flow_arn, name, flow, content, words):
    with pytest.raises(ClientError) as excinfo:
        a2i.start_human_loop(
            HumanLoopName=name, FlowDefinitionArn=flow or flow_arn, HumanLoopInput={"InputContent": content}
        )
    assert error_of(excinfo) == ("ValidationException", 400)
    assert words in excinfo.value.response["Error"]["Message"]


def test_input_content_of_exactly_the_maximum_is_accepted(a2i, flow_arn):
    content = json.dumps({**task_input(), "padding": ""})
    content = content.replace('"padding": ""', '"padding": "' + "x" * (3_145_728 - len(content)) + '"')
    assert len(content) == 3_145_728
    a2i.start_human_loop(
        HumanLoopName="big", FlowDefinitionArn=flow_arn, HumanLoopInput={"InputContent": content}
    )
    assert a2i.describe_human_loop(HumanLoopName="big")["HumanLoopStatus"] == "InProgress"


@pytest.mark.parametrize(
    "attributes",
    [{}, {"ContentClassifiers": "FreeOfAdultContent"}, {"ContentClassifiers": ["FreeOfEverything"]}],
)
def test_data_attributes_are_validated(raw_a2i, flow_arn, attributes):
    with pytest.raises(ClientError) as excinfo:
        raw_a2i.start_human_loop(
            HumanLoopName="loop-1",
            FlowDefinitionArn=flow_arn,
            HumanLoopInput={"InputContent": json.dumps(task_input())},
            DataAttributes=attributes,
        )
    assert error_of(excinfo) == ("ValidationException", 400)
    assert "DataAttributes.ContentClassifiers" in excinfo.value.response["Error"]["Message"]


def test_valid_data_attributes_are_accepted(a2i, flow_arn):
    a2i.start_human_loop(
        HumanLoopName="loop-1",
        FlowDefinitionArn=flow_arn,
        HumanLoopInput={"InputContent": json.dumps(task_input())},
        DataAttributes={
            "ContentClassifiers": ["FreeOfPersonallyIdentifiableInformation", "FreeOfAdultContent"]
        },
    )


def test_a_flow_definition_that_is_not_active_yet_is_refused(a2i, make_flow):
    arn = make_flow("fresh-flow", wait=False)
    with pytest.raises(ClientError) as excinfo:
        a2i.start_human_loop(
            HumanLoopName="loop-1", FlowDefinitionArn=arn, HumanLoopInput={"InputContent": "{}"}
        )
    assert error_of(excinfo) == ("ValidationException", 400)
    assert "Initializing" in excinfo.value.response["Error"]["Message"]


def test_an_input_the_template_rejects_fails_the_loop_after_the_start(a2i, start_loop):
    start_loop("loop-1", labels=[f"label-{index}" for index in range(11)])
    described = a2i.describe_human_loop(HumanLoopName="loop-1")
    assert described["HumanLoopStatus"] == "Failed"
    assert described["FailureCode"] == "ValidationError"
    assert "11 entries" in described["FailureReason"]


def test_unknown_loops_are_not_found(a2i):
    for call in (
        lambda: a2i.describe_human_loop(HumanLoopName="nothing"),
        lambda: a2i.stop_human_loop(HumanLoopName="nothing"),
        lambda: a2i.delete_human_loop(HumanLoopName="nothing"),
    ):
        with pytest.raises(a2i.exceptions.ResourceNotFoundException) as excinfo:
            call()
        assert error_of(excinfo) == ("ResourceNotFoundException", 404)


def test_a_body_that_is_not_a_json_object_is_refused(stack, flow_arn):
    refused = requests.post(f"{stack.emulator_url}/human-loops", data="[1]", timeout=5)
    assert (refused.status_code, refused.headers["x-amzn-ErrorType"]) == (400, "SerializationException")
    assert "JSON object" in refused.json()["message"]


def test_a_malformed_name_in_the_path_is_invalid(a2i):
    with pytest.raises(ClientError) as excinfo:
        a2i.describe_human_loop(HumanLoopName="Not_A_Name")
    assert error_of(excinfo) == ("ValidationException", 400)


def test_a_stopped_loop_stays_stopped_and_takes_no_answer(stack, a2i, start_loop):
    start_loop("loop-1")
    a2i.stop_human_loop(HumanLoopName="loop-1")
    a2i.stop_human_loop(HumanLoopName="loop-1")

    assert post_answer(stack, "loop-1", answer()).status_code == 409
    assert a2i.describe_human_loop(HumanLoopName="loop-1")["HumanLoopStatus"] == "Stopped"
    loops = requests.get(f"{stack.emulator_url}/reviewer/loops", timeout=5).json()["loops"]
    assert loops == []


def test_a_completed_loop_cannot_be_stopped(stack, a2i, start_loop):
    start_loop("loop-1")
    assert post_answer(stack, "loop-1", answer()).json()["HumanLoopStatus"] == "Completed"
    with pytest.raises(ClientError) as excinfo:
        a2i.stop_human_loop(HumanLoopName="loop-1")
    assert error_of(excinfo) == ("ValidationException", 400)


def test_an_in_progress_loop_must_be_stopped_before_it_is_deleted(a2i, flow_arn, start_loop):
    start_loop("loop-1")
    with pytest.raises(ClientError) as excinfo:
        a2i.delete_human_loop(HumanLoopName="loop-1")
    assert error_of(excinfo) == ("ValidationException", 400)

    a2i.stop_human_loop(HumanLoopName="loop-1")
    a2i.delete_human_loop(HumanLoopName="loop-1")

    with pytest.raises(a2i.exceptions.ResourceNotFoundException):
        a2i.describe_human_loop(HumanLoopName="loop-1")
    assert a2i.list_human_loops(FlowDefinitionArn=flow_arn)["HumanLoopSummaries"] == []
    start_loop("loop-1", labels=["bus"])


def test_loops_page_through_the_botocore_paginator(a2i, flow_arn, make_flow, start_loop):
    other_flow = make_flow("other-flow")
    for index in range(5):
        start_loop(f"loop-{index}")
    start_loop("elsewhere", flow=other_flow)

    pages = list(
        a2i.get_paginator("list_human_loops").paginate(
            FlowDefinitionArn=flow_arn, SortOrder="Ascending", PaginationConfig={"PageSize": 2}
        )
    )

    names = [[loop["HumanLoopName"] for loop in page["HumanLoopSummaries"]] for page in pages]
    assert names == [["loop-0", "loop-1"], ["loop-2", "loop-3"], ["loop-4"]]
    assert all("NextToken" in page for page in pages[:2])
    assert "NextToken" not in pages[2]
    assert pages[0]["HumanLoopSummaries"][0] == {
        "HumanLoopName": "loop-0",
        "HumanLoopStatus": "InProgress",
        "CreationTime": pages[0]["HumanLoopSummaries"][0]["CreationTime"],
        "FlowDefinitionArn": flow_arn,
    }
    newest_first = a2i.list_human_loops(FlowDefinitionArn=flow_arn)["HumanLoopSummaries"]
    assert [loop["HumanLoopName"] for loop in newest_first] == [f"loop-{index}" for index in (4, 3, 2, 1, 0)]
    everything = (
        a2i.get_paginator("list_human_loops").paginate(FlowDefinitionArn=flow_arn).build_full_result()
    )
    assert len(everything["HumanLoopSummaries"]) == 5


def test_loops_are_filtered_by_creation_time(a2i, flow_arn, start_loop):
    start_loop("early")
    time.sleep(0.02)
    start_loop("middle")
    time.sleep(0.02)
    start_loop("late")
    middle = a2i.describe_human_loop(HumanLoopName="middle")["CreationTime"]

    def names(**filters):
        loops = a2i.list_human_loops(FlowDefinitionArn=flow_arn, SortOrder="Ascending", **filters)
        return [loop["HumanLoopName"] for loop in loops["HumanLoopSummaries"]]

    assert names(CreationTimeAfter=middle) == ["middle", "late"]
    assert names(CreationTimeBefore=middle) == ["early"]
    assert names(CreationTimeAfter=middle, CreationTimeBefore=middle + timedelta(milliseconds=1)) == [
        "middle"
    ]
    assert names(CreationTimeAfter=middle + timedelta(days=1)) == []


@pytest.mark.parametrize(
    ("query", "code", "status"),
    [
        ({"FlowDefinitionArn": UNKNOWN_FLOW}, "ResourceNotFoundException", 404),
        (
            {"FlowDefinitionArn": "arn:aws:sagemaker:us-east-1:123456789012:human-loop/x"},
            "ValidationException",
            400,
        ),
        ({"MaxResults": 101}, "ValidationException", 400),
        ({"MaxResults": 0}, "ValidationException", 400),
        ({"SortOrder": "Sideways"}, "ValidationException", 400),
        ({"NextToken": "forged"}, "ValidationException", 400),
    ],
)
def test_a_list_is_validated(raw_a2i, flow_arn, query, code, status):
    with pytest.raises(ClientError) as excinfo:
        raw_a2i.list_human_loops(**{"FlowDefinitionArn": flow_arn, **query})
    assert error_of(excinfo) == (code, status)


@pytest.mark.parametrize(
    ("error", "status", "exception"),
    [
        ("ThrottlingException", 429, "ThrottlingException"),
        ("InternalServerException", 500, "InternalServerException"),
        ("ServiceQuotaExceededException", 402, "ServiceQuotaExceededException"),
    ],
)
def test_injected_faults_reach_boto3_with_their_code(stack, flow_arn, error, status, exception):
    a2i = stack.client("sagemaker-a2i-runtime", NO_RETRIES)
    inject_fault(stack, "StartHumanLoop", error)
    with pytest.raises(getattr(a2i.exceptions, exception)) as excinfo:
        a2i.start_human_loop(
            HumanLoopName="loop-1", FlowDefinitionArn=flow_arn, HumanLoopInput={"InputContent": "{}"}
        )
    assert error_of(excinfo) == (error, status)
    assert "Injected" in excinfo.value.response["Error"]["Message"]


def test_default_retries_ride_out_a_short_throttle(stack, a2i, flow_arn, start_loop):
    start_loop("loop-1")
    inject_fault(stack, "DescribeHumanLoop", "ThrottlingException")
    described = a2i.describe_human_loop(HumanLoopName="loop-1")
    assert described["ResponseMetadata"]["RetryAttempts"] == 1


def test_a_fault_with_a_custom_status_and_message(stack, flow_arn):
    a2i = stack.client("sagemaker-a2i-runtime", NO_RETRIES)
    inject_fault(stack, "ListHumanLoops", "ValidationException", status=400, message="Flow is being updated")
    with pytest.raises(ClientError) as excinfo:
        a2i.list_human_loops(FlowDefinitionArn=flow_arn)
    assert error_of(excinfo) == ("ValidationException", 400)
    assert excinfo.value.response["Error"]["Message"] == "Flow is being updated"
    assert a2i.list_human_loops(FlowDefinitionArn=flow_arn)["HumanLoopSummaries"] == []


def test_concurrent_starts_and_answers_stay_consistent(stack, a2i, flow_arn):
    names = [f"loop-{index}" for index in range(12)]
    content = json.dumps(task_input())

    def start(name: str) -> str:
        return a2i.start_human_loop(
            HumanLoopName=name, FlowDefinitionArn=flow_arn, HumanLoopInput={"InputContent": content}
        )["HumanLoopArn"]

    with ThreadPoolExecutor(8) as pool:
        arns = list(pool.map(start, names + names))
        statuses = list(
            pool.map(lambda worker: post_answer(stack, "loop-0", answer(worker)).status_code, "abcd")
        )

    assert arns[:12] == arns[12:]
    listed = a2i.get_paginator("list_human_loops").paginate(FlowDefinitionArn=flow_arn).build_full_result()
    assert sorted(loop["HumanLoopName"] for loop in listed["HumanLoopSummaries"]) == sorted(names)
    assert sorted(statuses) == [200, 409, 409, 409]
