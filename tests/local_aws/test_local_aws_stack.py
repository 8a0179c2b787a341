"""The `python -m local_aws` process: its connection line, options, test controls and a clean stop."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests
from processes import session_members, wait_until_session_ends
from stack_helpers import IMAGE_BUCKET, LOOPBACK_HEX, ROLE_ARN, TEMPLATE, WORKTEAM_ARN, listening_addresses

from local_aws.stack import free_port, inject_fault, reset, start_stack

pytestmark = pytest.mark.stack

SAMPLES = Path(__file__).resolve().parents[2] / "include" / "sample_images"


def children(pid: int) -> set[int]:
    return {
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    }


def test_the_first_line_is_an_airflow_connection_to_loopback_servers(stack):
    extra = stack.connection["extra"]
    assert stack.connection["conn_type"] == "aws"
    assert (stack.connection["login"], stack.connection["password"]) == ("testing", "testing")
    assert extra["region_name"] == stack.region == "us-east-1"
    assert stack.conn_uri_env == json.dumps(stack.connection)
    assert extra["endpoint_url"] == stack.moto_url
    assert set(extra["service_config"]) == {"sagemaker", "sagemaker-a2i-runtime", "sagemaker-runtime"}
    for url in (stack.moto_url, stack.emulator_url):
        assert url.startswith("http://127.0.0.1:")
        assert listening_addresses(int(url.rsplit(":", 1)[1])) == {LOOPBACK_HEX}
    assert any("reviewer API" in line for line in stack.output)
    print(f"\nlocal_aws start-up: {stack.startup_seconds:.2f}s")


def test_health(clean_stack):
    health = requests.get(f"{clean_stack.emulator_url}/_emulator/health", timeout=5).json()
    assert health == {"status": "ok", "region": "us-east-1", "moto_url": clean_stack.moto_url}


def test_reset_clears_moto_the_emulator_and_faults(clean_stack, sagemaker, s3):
    s3.create_bucket(Bucket=IMAGE_BUCKET)
    sagemaker.create_human_task_ui(HumanTaskUiName="boxes", UiTemplate={"Content": TEMPLATE})
    inject_fault(clean_stack, "ListHumanTaskUis", "ThrottlingException", count=50)

    reset(clean_stack)

    assert s3.list_buckets()["Buckets"] == []
    assert sagemaker.list_human_task_uis()["HumanTaskUiSummaries"] == []


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"operation": "StartHumanLoop"},
        {"operation": "", "error": "ThrottlingException"},
        {"operation": "StartHumanLoop", "error": "ThrottlingException", "count": 0},
        {"operation": "StartHumanLoop", "error": "ThrottlingException", "status": "429"},
    ],
)
def test_a_malformed_fault_is_refused(clean_stack, body):
    refused = requests.post(f"{clean_stack.emulator_url}/_emulator/faults", json=body, timeout=5)
    assert refused.status_code == 400
    assert refused.json()["error"] == "ValidationException"


def test_an_unknown_route_is_not_found(clean_stack):
    missing = requests.get(f"{clean_stack.emulator_url}/nowhere", timeout=5)
    assert missing.status_code == 404
    assert "GET /nowhere" in missing.json()["message"]


def test_a_taken_port_is_refused(stack, tmp_path):
    with pytest.raises(RuntimeError, match="did not print its connection"):
        start_stack(
            "--port", stack.emulator_url.rsplit(":", 1)[1], timeout=20, log_path=tmp_path / "stack.log"
        )
    assert "the port is in use" in (tmp_path / "stack.log").read_text()


def test_stopping_leaves_no_process_behind(tmp_path):
    running = start_stack(log_path=tmp_path / "stack.log")
    pid = running.pid
    assert session_members(pid) == {pid}
    spawned = children(pid)

    assert running.stop() == 0

    assert not Path(f"/proc/{pid}").exists()
    assert session_members(pid) == set()
    assert not any(Path(f"/proc/{child}").exists() for child in spawned)
    log = (tmp_path / "stack.log").read_text()
    assert "Got SIGTERM" in log
    assert "Stopped" in log


def test_a_launcher_that_ends_without_stopping_it_leaves_no_server(tmp_path):
    """A test run ended by its timeout (os._exit: no clean-up runs) must not leave the stand-in."""
    log_path = tmp_path / "stack.log"
    launcher = (
        "import os, sys\n"
        "from local_aws.stack import start_stack\n"
        f"stack = start_stack(log_path={str(log_path)!r})\n"
        "print(stack.pid, flush=True)\n"
        "os._exit(1)\n"
    )
    ended = subprocess.run(
        [sys.executable, "-c", launcher],
        cwd=SAMPLES.parents[1],  # the project's root: local_aws imports from there
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    pid = int(ended.stdout.split()[0])

    assert wait_until_session_ends(pid, 10) == set()  # the stand-in, moto and the servers: all gone
    log = log_path.read_text()
    assert "Got no parent any more, stopping" in log
    assert "Stopped" in log


def test_options_auto_review_and_a_clean_stop_on_sigint(tmp_path):
    ports = {"--port": free_port(), "--moto-port": free_port()}
    args = [item for option, port in ports.items() for item in (option, str(port))]
    log_path = tmp_path / "stack.log"
    with start_stack(
        *args,
        "--region",
        "eu-west-1",
        "--auto-review",
        "--review-workers",
        "2",
        "--review-delay",
        "0.3",
        "--flow-activation-seconds",
        "0",
        "--detector-latency",
        "0.3",
        log_path=log_path,
    ) as running:
        assert running.region == "eu-west-1"
        assert running.emulator_url == f"http://127.0.0.1:{ports['--port']}"
        assert running.moto_url == f"http://127.0.0.1:{ports['--moto-port']}"
        s3, sagemaker, a2i = (running.client(name) for name in ("s3", "sagemaker", "sagemaker-a2i-runtime"))
        region = {"LocationConstraint": "eu-west-1"}
        for bucket in (IMAGE_BUCKET, "a2i-output"):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=region)
        s3.put_object(Bucket=IMAGE_BUCKET, Key="street-04.jpg", Body=(SAMPLES / "street-04.jpg").read_bytes())
        ui_arn = sagemaker.create_human_task_ui(HumanTaskUiName="boxes", UiTemplate={"Content": TEMPLATE})[
            "HumanTaskUiArn"
        ]
        flow_arn = sagemaker.create_flow_definition(
            FlowDefinitionName="review",
            RoleArn=ROLE_ARN,
            OutputConfig={"S3OutputPath": "s3://a2i-output/reviews"},
            HumanLoopConfig={
                "WorkteamArn": WORKTEAM_ARN.replace("us-east-1", "eu-west-1"),
                "HumanTaskUiArn": ui_arn,
                "TaskTitle": "Review",
                "TaskDescription": "Review the boxes",
                "TaskCount": 2,
            },
        )["FlowDefinitionArn"]
        assert ":eu-west-1:" in flow_arn
        task = {
            "taskObject": f"s3://{IMAGE_BUCKET}/street-04.jpg",
            "labels": ["car", "person"],
            "initialValue": [],
        }
        a2i.start_human_loop(
            HumanLoopName="street-04",
            FlowDefinitionArn=flow_arn,
            HumanLoopInput={"InputContent": json.dumps(task)},
        )

        deadline = time.monotonic() + 15
        while a2i.describe_human_loop(HumanLoopName="street-04")["HumanLoopStatus"] == "InProgress":
            assert time.monotonic() < deadline, "the scripted reviewer did not answer the loop"
            time.sleep(0.1)
        described = a2i.describe_human_loop(HumanLoopName="street-04")
        assert described["HumanLoopStatus"] == "Completed"
        bucket, key = described["HumanLoopOutput"]["OutputS3Uri"].removeprefix("s3://").split("/", 1)
        output = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert [answer["workerId"] for answer in output["humanAnswers"]] == [
            "scripted-reviewer-1",
            "scripted-reviewer-2",
        ]
        submitted = datetime.fromisoformat(output["humanAnswers"][0]["submissionTime"])
        assert (submitted - described["CreationTime"]).total_seconds() >= 0.3

        sagemaker.create_model(
            ModelName="detector", PrimaryContainer={"Image": "gluoncv"}, ExecutionRoleArn=ROLE_ARN
        )
        variant = {"VariantName": "AllTraffic", "ModelName": "detector", "InstanceType": "ml.m4.xlarge"}
        sagemaker.create_endpoint_config(EndpointConfigName="detector", ProductionVariants=[variant])
        sagemaker.create_endpoint(EndpointName="detector", EndpointConfigName="detector")
        started = time.monotonic()
        running.client("sagemaker-runtime").invoke_endpoint(
            EndpointName="detector", Body=(SAMPLES / "street-04.jpg").read_bytes(), ContentType="image/jpeg"
        )
        assert time.monotonic() - started >= 0.3

        os.kill(running.pid, signal.SIGINT)
        assert running.process.wait(10) == 0
    assert session_members(running.pid) == set()
    assert "Got SIGINT" in log_path.read_text()
