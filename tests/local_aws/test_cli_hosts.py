"""`--host` and `--advertise-host`: where the stand-in listens, and the host name its connection names.

In a container the stand-in listens on 0.0.0.0 and calls itself by its service name (docker-compose.yaml);
here it still listens on 127.0.0.1 only, under a name that does not resolve on this machine, so that
anything using the advertised name internally would fail.
"""

import json
import socket
import time
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config
from stack_helpers import (
    LOOPBACK_HEX,
    OUTPUT_BUCKET,
    ROLE_ARN,
    TEMPLATE,
    WORKTEAM_ARN,
    listening_addresses,
    task_input,
)

from local_aws.__main__ import connection, parse_args
from local_aws.core.server import local_address
from local_aws.stack import PROJECT_ROOT, free_port, launch_stack
from local_aws.workflow import create_flow_definition, wait_until_active

SAMPLES = PROJECT_ROOT / "include" / "sample_images"
ADVERTISED = "local-aws"


def test_by_default_it_listens_on_and_advertises_loopback():
    args = parse_args([])
    assert (args.host, args.advertise_host) == ("127.0.0.1", "127.0.0.1")


def test_listening_on_every_interface_advertises_loopback_unless_told_a_name():
    assert parse_args(["--host", "0.0.0.0"]).advertise_host == "127.0.0.1"
    args = parse_args(["--host", "0.0.0.0", "--advertise-host", ADVERTISED])
    assert (args.host, args.advertise_host) == ("0.0.0.0", ADVERTISED)
    assert parse_args(["--host", "127.0.0.2"]).advertise_host == "127.0.0.2"


def test_servers_on_every_interface_are_reached_on_loopback_from_this_machine():
    assert local_address("0.0.0.0") == "127.0.0.1"
    assert local_address("127.0.0.1") == "127.0.0.1"
    assert local_address("10.1.2.3") == "10.1.2.3"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--host", "localhost", "--host 'localhost' is not an IPv4 address"),
        ("--host", "256.0.0.1", "--host '256.0.0.1' is not an IPv4 address"),
        ("--host", "", "--host '' is not an IPv4 address"),
        ("--advertise-host", "http://local-aws", "--advertise-host 'http://local-aws' is not a host name"),
        ("--advertise-host", "local-aws:5100", "--advertise-host 'local-aws:5100' is not a host name"),
        ("--advertise-host", "local aws", "--advertise-host 'local aws' is not a host name"),
        ("--advertise-host", "-local-aws", "--advertise-host '-local-aws' is not a host name"),
        ("--advertise-host", "", "--advertise-host '' is not a host name"),
    ],
)
def test_a_bad_host_is_refused(option, value, message, capsys):
    with pytest.raises(SystemExit) as exited:
        parse_args([f"{option}={value}"])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_a_port_taken_on_the_host_it_listens_on_is_refused(capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit):
            parse_args(["--host", "127.0.0.1", "--port", str(port)])
    assert f"--port {port}: the port is in use on 127.0.0.1" in capsys.readouterr().err


def wait_until_answering(url: str, deadline: float) -> None:
    while True:
        try:
            requests.get(url, timeout=2).raise_for_status()
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def loopback_client(service: str, port: int):
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


@pytest.mark.stack
def test_an_advertised_name_is_in_the_connection_and_urls_while_the_servers_talk_on_loopback(tmp_path):
    moto_port, port = free_port(), free_port()
    log_path = tmp_path / "stack.log"
    options = ["--moto-port", str(moto_port), "--port", str(port), "--flow-activation-seconds", "0.1"]
    with launch_stack("--advertise-host", ADVERTISED, *options, "--auto-review", log_path=log_path) as stack:
        # What clients are given: the advertised name on the ports actually bound.
        moto_url, emulator_url = f"http://{ADVERTISED}:{moto_port}", f"http://{ADVERTISED}:{port}"
        assert stack.connection == connection("us-east-1", moto_url, emulator_url)
        assert json.loads(stack.conn_uri_env) == stack.connection
        wait_until_answering(f"http://127.0.0.1:{port}/_emulator/health", time.monotonic() + 30)
        # Still only loopback, whatever the name.
        assert listening_addresses(moto_port) == listening_addresses(port) == {LOOPBACK_HEX}
        deadline = time.monotonic() + 10
        while not any("stop with Ctrl-C" in line for line in stack.output) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert f"listening on 127.0.0.1; the URLs below use the host {ADVERTISED}" in stack.output
        assert f"reviewer API: GET {emulator_url}/reviewer/loops?status=pending|all" in stack.output
        # Internally the emulator reaches moto on loopback.
        health = requests.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=5).json()
        assert health["moto_url"] == f"http://127.0.0.1:{moto_port}"

        s3 = loopback_client("s3", moto_port)
        sagemaker = loopback_client("sagemaker", port)  # the emulator; it proxies moto's operations
        a2i = loopback_client("sagemaker-a2i-runtime", port)
        assert sagemaker.list_endpoints()["Endpoints"] == []  # proxied to moto over loopback
        ui_arn = sagemaker.create_human_task_ui(HumanTaskUiName="boxes", UiTemplate={"Content": TEMPLATE})[
            "HumanTaskUiArn"
        ]
        ui = sagemaker.describe_human_task_ui(HumanTaskUiName="boxes")
        assert ui["UiTemplate"]["Url"] == f"{emulator_url}/human-task-uis/boxes/template"

        # A review end to end: the scripted reviewer polls the emulator on loopback and reads the
        # image from moto on loopback, so a name that does not resolve here changes nothing.
        s3.create_bucket(Bucket=OUTPUT_BUCKET)
        s3.upload_file(str(SAMPLES / "street-04.jpg"), OUTPUT_BUCKET, "images/street-04.jpg")
        flow_arn = create_flow_definition(
            sagemaker,
            name="review-boxes",
            ui_arn=ui_arn,
            s3_output_path=f"s3://{OUTPUT_BUCKET}/reviews/",
            role_arn=ROLE_ARN,
            workteam_arn=WORKTEAM_ARN,
        )
        wait_until_active(sagemaker, "review-boxes")
        a2i.start_human_loop(
            HumanLoopName="loop-1",
            FlowDefinitionArn=flow_arn,
            HumanLoopInput={
                "InputContent": json.dumps(
                    task_input(taskObject=f"s3://{OUTPUT_BUCKET}/images/street-04.jpg")
                )
            },
        )
        deadline = time.monotonic() + 20
        while (status := a2i.describe_human_loop(HumanLoopName="loop-1")["HumanLoopStatus"]) == "InProgress":
            assert time.monotonic() < deadline, "the scripted reviewer never answered"
            time.sleep(0.1)
        assert status == "Completed"

        pid = stack.pid
    assert stack.process.returncode == 0
    assert not Path(f"/proc/{pid}").exists()
    log = log_path.read_text()
    assert "Reviewer poll" not in log, log
    assert "Stopped" in log
