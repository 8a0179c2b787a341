"""No log line, XCom value or result record of a run on the Label Studio backend carries the AWS
connection's secret key or the signature of a presigned URL, and no error of the Label Studio hook
does either.

The secret key does go to Label Studio: its S3 storage needs it to presign the links to the images
that reviewers follow. The end-to-end pair of runs (review_workflow_setup, then detect_and_review)
uses a connection whose secret key is a distinctive string and searches the same places as the A2I
test (`tests/faults/test_secrets.py`). The real Label Studio quotes no secret when it refuses a
storage; the hook's errors are also tried on a tiny local server whose answers do, as a proxy in
front of Label Studio or another version of it may: one echoes the storage request, the other
names presigned links.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from labelstudio_world import BUCKET, returned, states
from secret_leaks import SIGNATURE, assert_nowhere, stored_by_airflow, written_under

from hitl_detection.hooks.label_studio import LabelStudioApiError, LabelStudioHook

pytestmark = pytest.mark.labelstudio

SECRET_KEY = "Canary+Secret/Key-5c8e2a9d7b1f4063"
SESSION_TOKEN = "Canary/Session+Token-0a6d3f9e"
PRESIGNED_LINKS = (  # SigV4 and SigV2
    f"http://127.0.0.1:5000/{BUCKET}/images/street-04.jpg?X-Amz-Expires=3600&X-Amz-Signature=5f0e7d9a",
    f"https://{BUCKET}.s3.amazonaws.com/images/street-05.jpg?Signature=q1Zx%2BcV9&Expires=1893456000",
)


@pytest.mark.stack
@pytest.mark.timeout(900)
def test_no_log_xcom_or_record_of_a_run_carries_the_secret_key_or_a_presigned_signature(
    aws, make_world, dag_bag, monkeypatch, capsys
):
    connection = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
    connection["password"] = SECRET_KEY
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    given: list[str | None] = []
    create_storage = LabelStudioHook.create_s3_import_storage

    def recorded(hook, project_id, **fields):
        given.append(fields.get("aws_secret_access_key"))
        return create_storage(hook, project_id, **fields)

    monkeypatch.setattr(LabelStudioHook, "create_s3_import_storage", recorded)

    world = make_world()
    with world.reviewers():
        run = dag_bag.get_dag("detect_and_review").test(run_conf=world.conf())
    assert run.state == "success", states(run)

    # The controls: Label Studio got the key and presigns links with it, and the gathering finds
    # what it should.
    assert given == [SECRET_KEY]
    assert SIGNATURE.search(_presigned_link(world, world.tasks()[0]["id"]))
    captured = capsys.readouterr()
    logs = captured.out + captured.err
    assert f"bucket {BUCKET}: created" in logs
    assert "Results published under" in logs
    airflow_texts = stored_by_airflow(("review_workflow_setup", "detect_and_review"))
    folder = returned(run, "publish_results").removeprefix(f"s3://{BUCKET}/")
    assert any(folder in text for text in airflow_texts)
    files = written_under(world.client("s3"), BUCKET, "results/")
    assert f"{folder}results.jsonl" in files

    places = {"the task logs": logs, **{f"s3://{BUCKET}/{key}": text for key, text in files.items()}}
    places |= {f"Airflow's database ({text[:60]}...)": text for text in airflow_texts}
    assert_nowhere(SECRET_KEY, places)


def test_an_error_echoing_the_storage_request_names_neither_the_secret_key_nor_the_token(
    echoing_hook, caplog
):
    with pytest.raises(LabelStudioApiError) as raised:
        echoing_hook.create_s3_import_storage(
            7,
            bucket=BUCKET,
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key=SECRET_KEY,
            aws_session_token=SESSION_TOKEN,
        )

    message = str(raised.value)
    assert_nowhere(SECRET_KEY, {"the error": message, "the hook's log": caplog.text})
    assert SESSION_TOKEN not in message
    # The control: the request did come back, with its secrets masked.
    assert raised.value.status == 400
    assert '"aws_secret_access_key":"***","aws_session_token":"***"' in message


def test_an_error_naming_presigned_links_does_not_carry_their_signatures(echoing_hook, caplog):
    with pytest.raises(LabelStudioApiError) as raised:
        echoing_hook.get_project(7)

    message = str(raised.value)
    assert_nowhere(SECRET_KEY, {"the error": message, "the hook's log": caplog.text})
    # The control: both links came back, without their signatures.
    assert raised.value.status == 400
    assert "X-Amz-Signature=***" in message
    assert "?Signature=***&Expires" in message


def test_the_real_label_studio_refusing_a_storage_names_no_secret_either(hook, project, moto_url, caplog):
    with pytest.raises(LabelStudioApiError) as raised:
        hook.create_s3_import_storage(
            project["id"],
            bucket="no-such-bucket",
            region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key=SECRET_KEY,
            s3_endpoint=moto_url,
        )

    message = str(raised.value)
    assert_nowhere(SECRET_KEY, {"the error": message, "the hook's log": caplog.text})
    # Label Studio 1.23 hides why (an S3 endpoint outside its trusted domains): a 500, not retried.
    assert raised.value.status == 500
    assert "Debugging info is not available for s3 endpoints" in message


@pytest.fixture
def echoing_hook(monkeypatch) -> Iterator[LabelStudioHook]:
    """A hook on a server (a free loopback port, stopped at the end) that refuses every request
    with a 400 quoting the request's body and naming two presigned links."""

    class Echo(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            sent = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"null"
            body = b'{"detail": "Validation error", "request": %s, "links": %s}' % (
                sent,
                json.dumps(PRESIGNED_LINKS).encode(),
            )
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_LABEL_STUDIO_ECHO",
        json.dumps({"conn_type": "http", "host": url, "password": "echo-token"}),
    )
    try:
        yield LabelStudioHook("label_studio_echo", max_attempts=1)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _presigned_link(world, task_id: int) -> str:
    """Where Label Studio sends a reviewer's browser for the task's image: a presigned URL."""
    headers = {"Authorization": f"Token {world.studio.token}"}
    with httpx.Client(base_url=world.studio.url, headers=headers, timeout=30) as client:
        task = client.get(f"/api/tasks/{task_id}").raise_for_status().json()
        redirect = client.get(task["data"]["image"])
    assert redirect.is_redirect, (redirect.status_code, redirect.text[:200])
    return redirect.headers["location"]
