"""Start and stop the local AWS stand-in as a subprocess, for tests and the demo.

with start_stack("--auto-review") as stack:
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = stack.conn_uri_env
    s3 = stack.client("s3")
"""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

CONN_PREFIX = "AIRFLOW_CONN_AWS_DEFAULT="
PROJECT_ROOT = Path(__file__).resolve().parent.parent
_POLL_SECONDS = 0.05


class StackProcess:
    """A running `python -m local_aws` in its own session; stop it with `stop()` or a `with` block."""

    def __init__(self, process: subprocess.Popen, conn_uri_env: str, log_path: Path) -> None:
        self.process = process
        self.conn_uri_env = conn_uri_env
        self.connection: dict[str, Any] = json.loads(conn_uri_env)
        self.log_path = log_path
        self.output: list[str] = []
        """The human-readable lines printed after the connection line."""
        self.startup_seconds: float | None = None
        self._drain = threading.Thread(target=self._read_output, name=f"local-aws-{process.pid}", daemon=True)
        self._drain.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def region(self) -> str:
        return self.connection["extra"]["region_name"]

    @property
    def moto_url(self) -> str:
        return self.connection["extra"]["endpoint_url"]

    @property
    def emulator_url(self) -> str:
        return self.connection["extra"]["service_config"]["sagemaker-a2i-runtime"]["endpoint_url"]

    def endpoint_url(self, service: str) -> str:
        """Where the connection sends `service`: the emulator for the SageMaker APIs, moto otherwise."""
        return self.connection["extra"]["service_config"].get(service, {}).get("endpoint_url", self.moto_url)

    def client(self, service: str, config: Config | None = None) -> Any:
        """A boto3 client of `service` routed as the Airflow connection routes it."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint_url(service),
            region_name=self.region,
            aws_access_key_id=self.connection["login"],
            aws_secret_access_key=self.connection["password"],
            config=config,
        )

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM the process by pid, wait, SIGKILL it after `timeout` seconds; returns its exit code."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.process.wait()
        self._drain.join(timeout)
        return self.process.returncode

    def __enter__(self) -> "StackProcess":
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line.rstrip("\n"))


def start_stack(*args: str, timeout: float = 60.0, log_path: str | Path | None = None) -> StackProcess:
    """Run `python -m local_aws *args` and return once moto and the emulator both answer.

    The process gets its own session, so signals sent to the caller's process group do not reach it;
    it stops by itself when the caller's process ends without stopping it (`--exit-with-parent`).
    Its log (stderr) goes to `log_path`, by default a new file in the temp directory.
    """
    started = time.monotonic()
    stack = launch_stack(*args, timeout=timeout, log_path=log_path)
    try:
        deadline = started + timeout
        _wait_until_answering(
            f"{stack.emulator_url}/_emulator/health", deadline, stack.process, stack.log_path
        )
        _wait_until_answering(f"{stack.moto_url}/moto-api/config", deadline, stack.process, stack.log_path)
    except BaseException:
        stack.process.kill()
        stack.process.wait()
        raise
    stack.startup_seconds = time.monotonic() - started
    return stack


def launch_stack(*args: str, timeout: float = 60.0, log_path: str | Path | None = None) -> StackProcess:
    """Run `python -m local_aws *args` and return once it printed its connection, without waiting
    for its servers (whose advertised host may not resolve from here: see --advertise-host)."""
    started = time.monotonic()
    if log_path is None:
        handle, name = tempfile.mkstemp(prefix="local-aws-", suffix=".log")
        os.close(handle)
        log_path = name
    log_path = Path(log_path)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "local_aws", "--exit-with-parent", *args],
            stdout=subprocess.PIPE,
            stderr=log_file,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            start_new_session=True,
        )
    try:
        first_line = _first_line(process, started + timeout, log_path)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return StackProcess(process, first_line.removeprefix(CONN_PREFIX), log_path)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now, for a server started with a fixed port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def reset(stack: StackProcess) -> None:
    """Clear the emulator's state and moto's."""
    _post(f"{stack.emulator_url}/_emulator/reset", {})


def inject_fault(
    stack: StackProcess,
    operation: str,
    error: str | None,
    *,
    status: int | None = None,
    message: str | None = None,
    count: int = 1,
    after: int | None = None,
    seconds: float | None = None,
    delay_seconds: float | None = None,
) -> None:
    """Make the next `count` calls of `operation` (e.g. "StartHumanLoop") fail with `error`, or
    every call for `seconds` from the first one it fails; `after` calls pass first; `delay_seconds`
    slows each down (with `error` None, that is all it does). Faults of one operation take turns."""
    fault = {"operation": operation, "count": count}
    optional = (
        ("error", error),
        ("status", status),
        ("message", message),
        ("after", after),
        ("seconds", seconds),
        ("delay_seconds", delay_seconds),
    )
    fault |= {key: value for key, value in optional if value is not None}
    _post(f"{stack.emulator_url}/_emulator/faults", fault)


def clear_faults(stack: StackProcess) -> None:
    """End every armed fault (the outage is over), keeping all other state."""
    _post(f"{stack.emulator_url}/_emulator/faults", None, method="DELETE")


def arm_endpoint_outcome(
    stack: StackProcess,
    status: str,
    *,
    failure_reason: str | None = None,
    creating_seconds: float = 0,
    deleting_seconds: float = 0,
    count: int = 1,
) -> None:
    """The next `count` endpoints created stay Creating for `creating_seconds`, then turn `status`
    ("InService" or "Failed", with `failure_reason`); once deleted, each stays Deleting for
    `deleting_seconds` before it is gone."""
    outcome = {
        "status": status,
        "creating_seconds": creating_seconds,
        "deleting_seconds": deleting_seconds,
        "count": count,
    }
    if failure_reason is not None:
        outcome["failure_reason"] = failure_reason
    _post(f"{stack.emulator_url}/_emulator/endpoint-outcomes", outcome)


def _post(url: str, body: dict[str, Any] | None, method: str = "POST") -> None:
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def _first_line(process: subprocess.Popen, deadline: float, log_path: Path) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], max(deadline - time.monotonic(), 0))
    line = process.stdout.readline().rstrip("\n") if ready else ""
    if not line.startswith(CONN_PREFIX):
        raise RuntimeError(
            f"local_aws did not print its connection (got {line!r}); its log {log_path}:\n{_tail(log_path)}"
        )
    return line


def _wait_until_answering(url: str, deadline: float, process: subprocess.Popen, log_path: Path) -> None:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer; local_aws log {log_path}:\n{_tail(log_path)}")
        time.sleep(_POLL_SECONDS)


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
