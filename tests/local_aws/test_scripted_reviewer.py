"""The scripted reviewer: its answers, and its use of the emulator's reviewer API and of S3.

The HTTP part runs against a small fake of the two reviewer endpoints and moto's S3 server,
both on 127.0.0.1, so it does not depend on the A2I emulator.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moto.server import ThreadedMotoServer
from PIL import Image
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from local_aws.actors import samples, scripted_reviewer
from local_aws.actors.scripted_reviewer import ScriptedReviewer, answer_for

BUCKET = "review-images"
TASK_LABELS = ["car", "person", "bicycle", "bus"]
STREET_08 = (samples.BUNDLED_DIR / "street-08.jpg").read_bytes()


def _task(key: str, initial_value=()) -> dict:
    return {
        "taskObject": f"s3://{BUCKET}/{key}",
        "initialValue": list(initial_value),
        "labels": TASK_LABELS,
        "uncertain": [],
    }


def _truth_boxes(body: bytes, labels) -> list[dict]:
    keys = ("label", "left", "top", "width", "height")
    return [{k: t[k] for k in keys} for t in samples.read_truth(body) if t["label"] in labels]


def _plain_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 100), "gray").save(out, "PNG")
    return out.getvalue()


def test_the_first_worker_draws_the_truth_of_the_task_labels():
    answer = answer_for(_task("street-08.jpg"), STREET_08, 0)
    result = answer["annotatedResult"]
    assert result["inputImageProperties"] == {"width": 640, "height": 400}
    assert result["boundingBoxes"] == _truth_boxes(STREET_08, TASK_LABELS)
    assert {b["label"] for b in result["boundingBoxes"]} == {"car", "person", "bicycle"}


def test_only_the_task_labels_are_drawn():
    task = {**_task("street-08.jpg"), "labels": ["truck"]}
    assert [b["label"] for b in answer_for(task, STREET_08, 0)["annotatedResult"]["boundingBoxes"]] == [
        "truck"
    ]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), worker_index=st.integers(1, 5))
def test_later_workers_wobble_by_at_most_two_pixels(seed, worker_index):
    body, _truth = samples.generate_image(seed, "png")
    width, height = Image.open(io.BytesIO(body)).size
    boxes = answer_for(_task("x.png"), body, worker_index)["annotatedResult"]["boundingBoxes"]
    assert boxes == answer_for(_task("x.png"), body, worker_index)["annotatedResult"]["boundingBoxes"]
    expected = _truth_boxes(body, TASK_LABELS)
    assert [b["label"] for b in boxes] == [t["label"] for t in expected]
    for box, true in zip(boxes, expected, strict=True):
        for edge in ("left", "top"):
            assert abs(box[edge] - true[edge]) <= 2
        assert abs(box["left"] + box["width"] - true["left"] - true["width"]) <= 2
        assert abs(box["top"] + box["height"] - true["top"] - true["height"]) <= 2
        assert 0 <= box["left"] < box["left"] + box["width"] <= width
        assert 0 <= box["top"] < box["top"] + box["height"] <= height


def test_workers_do_not_all_agree():
    answers = [
        answer_for(_task("street-08.jpg"), STREET_08, i)["annotatedResult"]["boundingBoxes"] for i in range(3)
    ]
    assert answers[0] != answers[1] != answers[2] != answers[0]


def test_without_truth_the_model_boxes_are_kept():
    initial = [{"label": "car", "left": 10, "top": 20, "width": 30, "height": 40}]
    answer = answer_for(_task("plain.png", initial), _plain_png(), 1)
    assert answer == {
        "annotatedResult": {"boundingBoxes": initial, "inputImageProperties": {"width": 200, "height": 100}}
    }
    answer["annotatedResult"]["boundingBoxes"][0]["left"] = 0
    assert initial[0]["left"] == 10


def test_a_task_without_labels_is_refused():
    with pytest.raises(ValueError, match="no list of labels"):
        answer_for({"taskObject": "s3://b/k"}, STREET_08, 0)


def _iso(moment: datetime) -> str:
    """A2I's timestamp form: UTC, milliseconds, a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class FakeReviewerApi:
    """The emulator's two reviewer endpoints, holding loops in memory."""

    def __init__(self):
        self.loops: dict[str, dict] = {}
        self.answers: dict[str, list[dict]] = {}
        self.list_failures = 0
        self.answered = threading.Event()
        self._lock = threading.Lock()

    def add(self, name, task, *, task_count=1, age=timedelta(minutes=5), answered_by=(), status="InProgress"):
        self.loops[name] = {
            "HumanLoopName": name,
            "HumanLoopStatus": status,
            "TaskCount": task_count,
            "HumanLoopArn": f"arn:aws:sagemaker:us-east-1:123456789012:human-loop/{name}",
            "FlowDefinitionArn": "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/demo",
            "CreationTime": _iso(datetime.now(UTC) - age),
            "InputContent": task,
        }
        self.answers[name] = [{"workerId": worker} for worker in answered_by]

    def __call__(self, environ, start_response):
        request = Request(environ)
        with self._lock:
            response = self._route(request)
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if request.method == "GET" and parts == ["reviewer", "loops"]:
            if self.list_failures:
                self.list_failures -= 1
                return Response("busy", status=500)
            pending = [
                {
                    **loop,
                    "AnswersReceived": len(self.answers[name]),
                    "WorkerIds": [a["workerId"] for a in self.answers[name]],
                }
                for name, loop in self.loops.items()
                if loop["HumanLoopStatus"] == "InProgress"
            ]
            assert request.args["status"] == "pending"
            return Response(json.dumps({"loops": pending}), mimetype="application/json")
        if request.method == "POST" and parts[:2] == ["reviewer", "loops"] and parts[3:] == ["answers"]:
            loop, answer = self.loops[parts[2]], request.get_json()
            answers = self.answers[parts[2]]
            if loop["HumanLoopStatus"] != "InProgress" or answer["workerId"] in {
                a["workerId"] for a in answers
            }:
                return Response(json.dumps({"message": "not accepted"}), status=409)
            answers.append(answer)
            if len(answers) == loop["TaskCount"]:
                loop["HumanLoopStatus"] = "Completed"
            self.answered.set()
            return Response("{}", mimetype="application/json")
        return Response("not found", status=404)


@pytest.fixture
def api():
    fake = FakeReviewerApi()
    server = make_server("127.0.0.1", 0, fake, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}"
    yield fake
    server.shutdown()
    thread.join()


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="street-08.jpg", Body=STREET_08)
    s3.put_object(Bucket=BUCKET, Key="plain.png", Body=_plain_png())
    yield endpoint
    server.stop()


@pytest.fixture
def s3(s3_endpoint):
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_a_pending_loop_is_answered_once(api, s3):
    api.add("loop-a", _task("street-08.jpg"))
    reviewer = ScriptedReviewer(api.url, s3)
    assert reviewer.poll_once() == 1
    assert reviewer.poll_once() == 0
    (answer,) = api.answers["loop-a"]
    assert answer["workerId"] == "scripted-reviewer-1"
    assert answer["answerContent"] == answer_for(_task("street-08.jpg"), STREET_08, 0)
    assert answer["timeSpentInSeconds"] > 0
    assert api.loops["loop-a"]["HumanLoopStatus"] == "Completed"


def test_distinct_workers_answer_up_to_the_task_count(api, s3):
    api.add("three-wanted", _task("street-08.jpg"), task_count=3)
    api.add("two-wanted", _task("plain.png"), task_count=2)
    reviewer = ScriptedReviewer(api.url, s3, workers=5)
    assert reviewer.poll_once() == 5
    assert [a["workerId"] for a in api.answers["three-wanted"]] == [
        "scripted-reviewer-1",
        "scripted-reviewer-2",
        "scripted-reviewer-3",
    ]
    assert [a["workerId"] for a in api.answers["two-wanted"]] == [
        "scripted-reviewer-1",
        "scripted-reviewer-2",
    ]


def test_fewer_workers_leave_the_rest_to_others(api, s3):
    api.add("needs-three", _task("street-08.jpg"), task_count=3)
    api.add("one-done", _task("street-08.jpg"), task_count=2, answered_by=["a-human"])
    reviewer = ScriptedReviewer(api.url, s3, workers=2)
    assert reviewer.poll_once() == 3
    assert reviewer.poll_once() == 0
    assert [a["workerId"] for a in api.answers["needs-three"]] == [
        "scripted-reviewer-1",
        "scripted-reviewer-2",
    ]
    assert [a["workerId"] for a in api.answers["one-done"]] == ["a-human", "scripted-reviewer-1"]
    assert api.loops["needs-three"]["HumanLoopStatus"] == "InProgress"


def test_young_loops_wait_for_the_delay(api, s3):
    api.add("young", _task("street-08.jpg"), age=timedelta(0))
    api.add("old", _task("street-08.jpg"), age=timedelta(hours=2))
    assert ScriptedReviewer(api.url, s3, delay_seconds=3600).poll_once() == 1
    assert (len(api.answers["young"]), len(api.answers["old"])) == (0, 1)


def test_a_loop_that_no_longer_takes_answers_is_left_alone(api, s3, monkeypatch):
    api.add("stopping", _task("street-08.jpg"), task_count=2)
    original = api._route

    def stop_then_route(request):
        api.loops["stopping"]["HumanLoopStatus"] = "Stopped" if request.method == "POST" else "InProgress"
        return original(request)

    monkeypatch.setattr(api, "_route", stop_then_route)
    assert ScriptedReviewer(api.url, s3, workers=2).poll_once() == 0
    assert api.answers["stopping"] == []


def test_a_loop_whose_image_is_missing_does_not_block_the_others(api, s3, caplog):
    api.add("missing", _task("nowhere.jpg"))
    api.add("fine", _task("street-08.jpg"))
    with caplog.at_level(logging.WARNING, logger=scripted_reviewer.__name__):
        assert ScriptedReviewer(api.url, s3).poll_once() == 1
    assert "Cannot review loop missing" in caplog.text
    assert api.answers["missing"] == []


def test_run_outlasts_a_failing_emulator_until_stopped(api, s3, caplog):
    api.list_failures = 2
    api.add("later", _task("street-08.jpg"))
    stop = threading.Event()
    worker = threading.Thread(target=ScriptedReviewer(api.url, s3).run, args=(stop, 0.01))
    with caplog.at_level(logging.WARNING, logger=scripted_reviewer.__name__):
        worker.start()
        answered = api.answered.wait(timeout=15)
        stop.set()
        worker.join(timeout=15)
    assert answered
    assert not worker.is_alive()
    assert api.list_failures == 0
    assert caplog.text.count("Reviewer poll of") == 2


def test_the_command_line_answers_once(api, s3_endpoint, capsys):
    api.add("cli", _task("street-08.jpg"))
    scripted_reviewer.main(["--emulator-url", api.url, "--s3-endpoint-url", s3_endpoint, "--once"])
    assert "submitted 1 answers" in capsys.readouterr().out
    assert len(api.answers["cli"]) == 1
