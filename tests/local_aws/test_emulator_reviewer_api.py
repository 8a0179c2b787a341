"""The reviewer API: pending loops, answers that complete a loop with output.json in S3, and failures."""

import json
from datetime import UTC

import pytest
import requests
from stack_helpers import OUTPUT_BUCKET, answer, task_input

pytestmark = pytest.mark.stack


def loops(stack, status: str = "pending") -> list[dict]:
    answer_ = requests.get(f"{stack.emulator_url}/reviewer/loops", params={"status": status}, timeout=5)
    answer_.raise_for_status()
    return answer_.json()["loops"]


def post(stack, name: str, action: str, body) -> requests.Response:
    return requests.post(f"{stack.emulator_url}/reviewer/loops/{name}/{action}", json=body, timeout=10)


def test_pending_loops_are_listed_with_their_input(stack, flow_arn, start_loop):
    start_loop("loop-1")

    [pending] = loops(stack)

    assert pending == {
        "HumanLoopName": "loop-1",
        "HumanLoopArn": "arn:aws:sagemaker:us-east-1:123456789012:human-loop/loop-1",
        "FlowDefinitionArn": flow_arn,
        "HumanLoopStatus": "InProgress",
        "CreationTime": pending["CreationTime"],
        "InputContent": task_input(),
        "TaskCount": 1,
        "AnswersReceived": 0,
        "WorkerIds": [],
    }
    assert pending["CreationTime"].endswith("Z")


def test_an_answer_completes_the_loop_and_writes_output_json(stack, a2i, s3, flow_arn, start_loop):
    start_loop("loop-1")

    result = post(stack, "loop-1", "answers", answer("worker-1")).json()

    described = a2i.describe_human_loop(HumanLoopName="loop-1")
    created = described["CreationTime"].astimezone(UTC)
    key = f"reviews/review-boxes/{created:%Y/%m/%d/%H/%M/%S}/loop-1/output.json"
    assert result == {
        "HumanLoopStatus": "Completed",
        "AnswersReceived": 1,
        "OutputS3Uri": f"s3://{OUTPUT_BUCKET}/{key}",
    }
    assert described["HumanLoopStatus"] == "Completed"
    assert described["HumanLoopOutput"]["OutputS3Uri"] == result["OutputS3Uri"]
    output = json.loads(s3.get_object(Bucket=OUTPUT_BUCKET, Key=key)["Body"].read())
    assert output["flowDefinitionArn"] == flow_arn
    assert output["humanLoopName"] == "loop-1"
    assert output["inputContent"] == task_input()
    [human_answer] = output["humanAnswers"]
    assert human_answer["workerId"] == "worker-1"
    assert human_answer["answerContent"] == answer()["answerContent"]
    assert human_answer["timeSpentInSeconds"] == 12.5
    assert human_answer["workerMetadata"]["identityData"]["sub"] == "worker-1"
    assert human_answer["acceptanceTime"] < human_answer["submissionTime"]
    assert loops(stack) == []
    assert [loop["HumanLoopStatus"] for loop in loops(stack, "all")] == ["Completed"]


def test_a_task_count_of_two_needs_two_workers(stack, a2i, s3, make_flow, start_loop):
    start_loop("loop-1", flow=make_flow("two-workers", task_count=2))

    first = post(stack, "loop-1", "answers", answer("worker-1")).json()
    assert first == {"HumanLoopStatus": "InProgress", "AnswersReceived": 1}
    assert post(stack, "loop-1", "answers", answer("worker-1")).status_code == 409
    [pending] = loops(stack)
    assert (pending["AnswersReceived"], pending["WorkerIds"]) == (1, ["worker-1"])
    assert a2i.describe_human_loop(HumanLoopName="loop-1")["HumanLoopStatus"] == "InProgress"

    second = post(stack, "loop-1", "answers", answer("worker-2", label="person")).json()

    assert second["HumanLoopStatus"] == "Completed"
    bucket, key = second["OutputS3Uri"].removeprefix("s3://").split("/", 1)
    output = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert [a["workerId"] for a in output["humanAnswers"]] == ["worker-1", "worker-2"]
    assert key.startswith("reviews/two-workers/")
    assert post(stack, "loop-1", "answers", answer("worker-3")).status_code == 409


def test_a_loop_fails_as_expired(stack, a2i, start_loop):
    start_loop("loop-1")

    result = post(
        stack, "loop-1", "fail", {"FailureCode": "Expired", "FailureReason": "Nobody took the task"}
    )

    assert result.json() == {
        "HumanLoopStatus": "Failed",
        "FailureCode": "Expired",
        "FailureReason": "Nobody took the task",
    }
    described = a2i.describe_human_loop(HumanLoopName="loop-1")
    assert (described["HumanLoopStatus"], described["FailureCode"]) == ("Failed", "Expired")
    assert described["FailureReason"] == "Nobody took the task"
    assert post(stack, "loop-1", "answers", answer()).status_code == 409
    assert post(stack, "loop-1", "fail", {"FailureCode": "InternalError"}).status_code == 409
    [summary] = a2i.list_human_loops(FlowDefinitionArn=described["FlowDefinitionArn"])["HumanLoopSummaries"]
    assert summary["FailureReason"] == "Nobody took the task"


def test_a_loop_whose_output_cannot_be_written_fails_with_an_internal_error(stack, a2i, s3, start_loop):
    start_loop("loop-1")
    s3.delete_bucket(Bucket=OUTPUT_BUCKET)

    assert post(stack, "loop-1", "answers", answer()).json()["HumanLoopStatus"] == "Failed"
    described = a2i.describe_human_loop(HumanLoopName="loop-1")
    assert described["FailureCode"] == "InternalError"
    assert "NoSuchBucket" in described["FailureReason"]


def broken(path: list, value) -> dict:
    body = answer()
    target = body
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ([], "request body"),
        (broken(["workerId"], ""), "workerId"),
        (broken(["answerContent"], None), "answerContent"),
        (broken(["answerContent", "annotatedResult"], "boxes"), "annotatedResult"),
        (broken(["answerContent", "annotatedResult", "boundingBoxes"], {}), "boundingBoxes"),
        (broken(["answerContent", "annotatedResult", "boundingBoxes", 0, "label"], None), "label"),
        (broken(["answerContent", "annotatedResult", "boundingBoxes", 0, "left"], -1), "left"),
        (broken(["answerContent", "annotatedResult", "boundingBoxes", 0, "width"], "wide"), "width"),
        (broken(["answerContent", "annotatedResult", "inputImageProperties"], None), "inputImageProperties"),
        (broken(["answerContent", "annotatedResult", "inputImageProperties", "height"], 0), "height"),
        (broken(["timeSpentInSeconds"], "long"), "timeSpentInSeconds"),
    ],
)
def test_a_malformed_answer_is_refused(stack, start_loop, body, words):
    start_loop("loop-1")
    refused = post(stack, "loop-1", "answers", body)
    assert refused.status_code == 400
    assert words in refused.json()["message"]
    assert loops(stack)[0]["AnswersReceived"] == 0


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"FailureCode": "Bored"}, "FailureCode"),
        ({"FailureCode": "Expired", "FailureReason": 3}, "FailureReason"),
    ],
)
def test_a_malformed_failure_is_refused(stack, start_loop, body, words):
    start_loop("loop-1")
    refused = post(stack, "loop-1", "fail", body)
    assert refused.status_code == 400
    assert words in refused.json()["message"]


def test_unknown_loops_and_statuses(clean_stack):
    assert post(clean_stack, "nothing", "answers", answer()).status_code == 404
    assert post(clean_stack, "nothing", "fail", {"FailureCode": "Expired"}).status_code == 404
    bad_status = requests.get(f"{clean_stack.emulator_url}/reviewer/loops?status=done", timeout=5)
    assert bad_status.status_code == 400
    not_json = requests.post(
        f"{clean_stack.emulator_url}/reviewer/loops/nothing/answers", data="{", timeout=5
    )
    assert not_json.status_code == 400
