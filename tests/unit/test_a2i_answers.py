import json

import pytest

from hitl_detection.domain.a2i_answers import AnswerFormatError, ReviewerAnswer, parse_human_loop_output
from hitl_detection.domain.boxes import Box


def answer(boxes=None, worker="w-1", **extra):
    result = {"inputImageProperties": {"width": 640, "height": 480}}
    if boxes is not None:
        result["boundingBoxes"] = boxes
    return {
        "answerContent": {"annotatedResult": result},
        "submissionTime": "2024-05-01T12:03:04.567Z",
        "workerId": worker,
        "workerMetadata": {"identityData": {"identityProviderType": "Cognito"}},
        "acceptanceTime": "2024-05-01T12:00:00.000Z",
        "timeSpentInSeconds": 184.5,
        **extra,
    }


def output(*answers):
    return {
        "flowDefinitionArn": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/hitl",
        "humanLoopName": "dog-0123",
        "inputContent": {"taskObject": "s3://bucket/dog.jpg"},
        "humanAnswers": list(answers),
    }


DOG = {"label": "dog", "left": 10, "top": 20, "width": 30, "height": 40}


def test_parses_every_reviewer():
    document = output(answer([DOG]), answer([DOG, {**DOG, "label": "cat"}], worker="w-2"))
    assert parse_human_loop_output(json.dumps(document).encode()) == [
        ReviewerAnswer(
            worker_id="w-1",
            boxes=(Box("dog", 10, 20, 30, 40, score=None, source="human"),),
            image_size=(640, 480),
            submission_time="2024-05-01T12:03:04.567Z",
            time_spent_seconds=184.5,
        ),
        ReviewerAnswer(
            worker_id="w-2",
            boxes=(Box("dog", 10, 20, 30, 40, source="human"), Box("cat", 10, 20, 30, 40, source="human")),
            image_size=(640, 480),
            submission_time="2024-05-01T12:03:04.567Z",
            time_spent_seconds=184.5,
        ),
    ]


def test_accepts_text_and_mappings():
    document = output(answer([DOG]))
    assert parse_human_loop_output(json.dumps(document)) == parse_human_loop_output(document)


def test_optional_fields_may_be_absent():
    minimal = {"workerId": "w", "answerContent": {"annotatedResult": {}}}
    assert parse_human_loop_output(output(minimal)) == [ReviewerAnswer("w", (), None, None, None)]


def test_other_element_names():
    document = output({"workerId": "w", "answerContent": {"boxes": {"boundingBoxes": [DOG]}}})
    assert parse_human_loop_output(document, element_name="boxes")[0].boxes == (
        Box("dog", 10, 20, 30, 40, None, "human"),
    )


def test_whole_float_sizes_become_ints():
    document = output(answer([], timeSpentInSeconds=3))
    document["humanAnswers"][0]["answerContent"]["annotatedResult"]["inputImageProperties"] = {
        "width": 640.0,
        "height": 480,
    }
    (parsed,) = parse_human_loop_output(document)
    assert parsed.image_size == (640, 480)
    assert parsed.time_spent_seconds == 3.0
    assert isinstance(parsed.time_spent_seconds, float)


def with_result(**result):
    return output({"workerId": "w", "answerContent": {"annotatedResult": result}})


WHERE = r"humanAnswers\[0\]\.answerContent\.annotatedResult"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"\xff\xfe{}", "output.json is not UTF-8 text"),
        ("{not json", "output.json is not JSON"),
        ("[]", "output.json is a list, expected a JSON object"),
        ({}, "output.json humanAnswers is None, expected a list of answers"),
        ({"humanAnswers": {}}, r"output.json humanAnswers is \{\}, expected a list"),
        (output(), "output.json has no humanAnswers; expected at least one reviewer's answer"),
        (output(answer([DOG]), "yes"), r"humanAnswers\[1\] is 'yes', expected a JSON object"),
        (output({"answerContent": {}}), r"humanAnswers\[0\]\.workerId is None, expected a non-empty string"),
        (output({"workerId": "", "answerContent": {}}), r"humanAnswers\[0\]\.workerId is ''"),
        (output({"workerId": "w"}), r"humanAnswers\[0\]\.answerContent is None, expected a JSON object"),
        (
            output({"workerId": "w", "answerContent": {"crowd-bounding-box": {}}}),
            r"humanAnswers\[0\]\.answerContent has no 'annotatedResult' \(keys: \['crowd-bounding-box'\]\)",
        ),
        (
            output({"workerId": "w", "answerContent": {"annotatedResult": "x"}}),
            f"{WHERE} is 'x', expected a JSON",
        ),
        (with_result(boundingBoxes="x" * 200), rf"{WHERE}\.boundingBoxes is 'xxx+\.\.\., expected a list"),
        (with_result(boundingBoxes=[DOG, 5]), rf"{WHERE}\.boundingBoxes\[1\] is 5, expected a JSON object"),
        (with_result(boundingBoxes=[{**DOG, "label": ""}]), rf"{WHERE}\.boundingBoxes\[0\]\.label is ''"),
        (with_result(boundingBoxes=[{**DOG, "label": None}]), rf"{WHERE}\.boundingBoxes\[0\]\.label is None"),
        (
            with_result(boundingBoxes=[{**DOG, "left": "1"}]),
            rf"{WHERE}\.boundingBoxes\[0\]\.left is '1', expected a",
        ),
        (with_result(boundingBoxes=[{**DOG, "top": True}]), rf"{WHERE}\.boundingBoxes\[0\]\.top is True"),
        (
            with_result(boundingBoxes=[{**DOG, "width": -3}]),
            rf"{WHERE}\.boundingBoxes\[0\]\.width is -3, expected a number >= 0",
        ),
        (
            with_result(boundingBoxes=[DOG, {**DOG, "height": float("nan")}]),
            rf"{WHERE}\.boundingBoxes\[1\]\.height is nan",
        ),
        (
            with_result(inputImageProperties=[640, 480]),
            rf"{WHERE}\.inputImageProperties is \[640, 480\], expected",
        ),
        (
            with_result(inputImageProperties={"width": 0, "height": 1}),
            rf"{WHERE}\.inputImageProperties\.width is 0",
        ),
        (
            with_result(inputImageProperties={"width": 10.5, "height": 1}),
            rf"{WHERE}\.inputImageProperties is 10.5x1, expected whole pixels",
        ),
        (
            output(answer([], submissionTime=17)),
            r"humanAnswers\[0\]\.submissionTime is 17, expected an ISO 8601",
        ),
        (
            output(answer([], timeSpentInSeconds=-1)),
            r"humanAnswers\[0\]\.timeSpentInSeconds is -1, expected a number >= 0",
        ),
        (output(answer([], timeSpentInSeconds="5")), r"humanAnswers\[0\]\.timeSpentInSeconds is '5'"),
    ],
)
def test_names_what_is_malformed(document, message):
    with pytest.raises(AnswerFormatError, match=message):
        parse_human_loop_output(document)
