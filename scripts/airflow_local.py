"""make airflow: Airflow's UI on this machine, without Docker, with the local stand-in for AWS wired in.

Starts the stand-in (moto, the A2I emulator, the simulated detector and the scripted reviewer,
which answers every human loop), seeds the bundled sample images into s3://hitl-demo/images/, runs
`airflow standalone` (api-server with the UI, scheduler, DAG processor, triggerer; LocalExecutor,
SQLite) on 127.0.0.1 with the project's dags/ and plugins/ and `aws_default` pointing at the
stand-in, and prints the URL, the login and what to type in the trigger forms. Ctrl-C stops both.

With `--review-backend labelstudio` (`make airflow REVIEW_BACKEND=labelstudio`) a real Label
Studio runs beside them (from .venv-labelstudio, on 127.0.0.1), `label_studio_default` points at
it, and scripted reviewers answer every project's tasks through its API; its URL and login are
printed with Airflow's.

The stand-in forgets everything when it stops, so the Airflow home (.airflow-home/, git-ignored)
is made anew at every start too (Label Studio's data with it): no run in the UI points at data
that is gone.

The browser test starts the same thing with `local_airflow(...)`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python scripts/airflow_local.py` puts only scripts/ on the path
    sys.path.insert(0, str(ROOT))

from local_aws.core.arns import sagemaker_arn  # noqa: E402
from local_aws.stack import StackProcess, free_port, start_stack  # noqa: E402
from local_labelstudio.server import LabelStudioProcess, start_label_studio  # noqa: E402

DEFAULT_HOME = ROOT / ".airflow-home"
SAMPLES = ROOT / "include" / "sample_images"
USERNAME = "admin"
PASSWORD = "admin"
BUCKET = "hitl-demo"
PROJECT_DAGS = ("review_workflow_setup", "detect_and_review")
# The scripted reviewer answers a loop this long after it starts: long enough that the review
# sensor defers and the triggerer is seen to wait (purple "deferred" in the grid).
REVIEW_DELAY_SECONDS = 10
START_TIMEOUT = 240.0
PID_FILE = "standalone.pid"
STOP_TIMEOUT = 45.0
_POLL_SECONDS = 1.0

# What the trigger forms need, for the stand-in (any well-formed ARN is accepted by it).
FORM_VALUES = {
    "review_workflow_setup": {
        "workteam_arn": "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/hitl-demo",
        "role_arn": "arn:aws:iam::123456789012:role/hitl-demo-a2i",
        "s3_output_path": f"s3://{BUCKET}/a2i-output/",
    },
    "detect_and_review": {
        "input_s3_uri": f"s3://{BUCKET}/images/",
        "output_s3_uri": f"s3://{BUCKET}/results/",
        "execution_role_arn": "arn:aws:iam::123456789012:role/hitl-demo-sagemaker",
        # What review_workflow_setup returns with its default flow definition name.
        "flow_definition_arn": sagemaker_arn("us-east-1", "flow-definition", "hitl-detection-review"),
    },
}
# The same with Label Studio: its data is new at every start, so the setup's project is the first.
LABEL_STUDIO_FORM_VALUES = {
    "review_workflow_setup": {"review_backend": "labelstudio", "images_s3_uri": f"s3://{BUCKET}/images/"},
    "detect_and_review": {
        "input_s3_uri": f"s3://{BUCKET}/images/",
        "output_s3_uri": f"s3://{BUCKET}/results/",
        "execution_role_arn": "arn:aws:iam::123456789012:role/hitl-demo-sagemaker",
        "review_backend": "labelstudio",
        "label_studio_project_id": 1,
    },
}


@dataclass
class LocalAirflow:
    """A running `airflow standalone` (in a process group of its own) and the stand-in it uses."""

    url: str
    home: Path
    log_path: Path
    stack: StackProcess
    process: subprocess.Popen
    env: dict[str, str] = field(default_factory=dict, repr=False)
    """The environment every Airflow process of it runs with."""
    studio: LabelStudioProcess | None = None
    username: str = USERNAME
    password: str = PASSWORD
    startup_seconds: float | None = None
    _token: str | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def token(self) -> str:
        """A bearer token for the REST API (`POST /auth/token`)."""
        if self._token is None:
            answer = _request(
                f"{self.url}/auth/token", {"username": self.username, "password": self.password}
            )
            self._token = answer["access_token"]
        return self._token

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the REST API (`path` under /api/v2) as the admin user; returns the decoded JSON."""
        return _request(
            f"{self.url}/api/v2/{path.lstrip('/')}",
            body,
            method=method,
            headers={"Authorization": f"Bearer {self.token()}"},
        )

    def log_tail(self, lines: int = 60) -> str:
        return _tail(self.log_path, lines)


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# `airflow standalone` starts each component as `airflow <component>`, found on PATH. The scheduler
# and the triggerer would each start a log server on all interfaces at fixed ports (8793, 8794);
# every process here writes its logs to the same disk, which the API server reads, so skip them.
AIRFLOW_SHIM = """#!/bin/sh
case "$1" in
    scheduler|triggerer) exec "{airflow}" "$@" --skip-serve-logs ;;
esac
exec "{airflow}" "$@"
"""


def airflow_env(
    home: Path, port: int, conn_uri_env: str, label_studio_conn: str | None = None
) -> dict[str, str]:
    """The environment of `airflow standalone` and so of every Airflow process it starts."""
    venv_bin = Path(sys.executable).parent
    shim = home / "bin" / "airflow"
    shim.parent.mkdir(parents=True, exist_ok=True)
    shim.write_text(AIRFLOW_SHIM.format(airflow=venv_bin / "airflow"))
    shim.chmod(0o755)
    url = f"http://127.0.0.1:{port}"
    return {
        **os.environ,
        "PATH": os.pathsep.join([str(shim.parent), str(venv_bin), os.environ.get("PATH", "")]),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # 32 executor workers by default: 4 keep standalone near 1.2 GB.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        # Tasks reach the execution API through this (localhost:8080 otherwise).
        "AIRFLOW__API__BASE_URL": url,
        # New and changed DAG files show within seconds, not 5 minutes.
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
        # The scripted reviewer answers within seconds: look for its answers that often.
        "AIRFLOW__HITL_DETECTION__REVIEW_POLL_SECONDS": "5",
        "AIRFLOW__HITL_DETECTION__RETRY_DELAY_SECONDS": "5",
        "AIRFLOW_CONN_AWS_DEFAULT": conn_uri_env,
    } | ({"AIRFLOW_CONN_LABEL_STUDIO_DEFAULT": label_studio_conn} if label_studio_conn else {})


def seed_images(stack: StackProcess) -> int:
    """Upload the bundled sample images to s3://hitl-demo/images/ in the stand-in's S3."""
    s3 = stack.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    images = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".jpg", ".jpeg", ".png"))
    for path in images:
        s3.upload_file(str(path), BUCKET, f"images/{path.name}")
    return len(images)


def start_standalone(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """`airflow standalone` in a new session, with SIGINT at its default handler so that SIGINT stops it.

    (A process started with SIGINT ignored, as background jobs are, would keep ignoring it; and
    SIGTERM would orphan the components standalone starts.)
    """

    def child_setup() -> None:
        os.setsid()
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    with log_path.open("ab") as log:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "airflow"), "standalone"],
            env=env,
            cwd=env["AIRFLOW_HOME"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=child_setup,
        )


def stop_standalone(process: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGINT standalone (it stops its components), then end whatever is left of its process group."""
    group = process.pid  # its own session, so its pid is its process group id
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            process.wait()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not _group_alive(group):
            break
        print(
            f"airflow standalone left processes behind in group {group}: sending {sig.name}", file=sys.stderr
        )
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, sig)
        deadline = time.monotonic() + 10
        while _group_alive(group) and time.monotonic() < deadline:
            time.sleep(0.2)
    return process.returncode


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """Ignore SIGINT and SIGTERM while cleaning up (only the main thread may set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until_ready(airflow: LocalAirflow, timeout: float = START_TIMEOUT) -> None:
    """Wait for every component to report healthy, the project's DAGs to be parsed, and unpause them."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while True:
        if airflow.process.poll() is not None:
            raise RuntimeError(
                f"airflow standalone exited {airflow.process.returncode}:\n{airflow.log_tail()}"
            )
        try:
            last = _ready_problem(airflow)
        except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError) as error:
            last = repr(error)
        if last == "":
            break
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"Airflow not ready after {timeout:.0f} s ({last}); log:\n{airflow.log_tail()}"
            )
        time.sleep(_POLL_SECONDS)
    for dag_id in PROJECT_DAGS:
        airflow.api("PATCH", f"dags/{dag_id}", {"is_paused": False})


def _ready_problem(airflow: LocalAirflow) -> str:
    """What is not ready yet; "" when everything is."""
    health = _request(f"{airflow.url}/api/v2/monitor/health")
    unhealthy = [
        name
        for name, part in health.items()
        if isinstance(part, dict) and part.get("status") not in (None, "healthy")
    ]
    if unhealthy:
        return f"not healthy yet: {', '.join(sorted(unhealthy))}"
    errors = airflow.api("GET", "importErrors")
    if errors.get("total_entries"):
        problems = "; ".join(f"{e['filename']}: {e['stack_trace'][-300:]}" for e in errors["import_errors"])
        raise RuntimeError(f"DAG import errors: {problems}")
    dags = {dag["dag_id"] for dag in airflow.api("GET", "dags?limit=100")["dags"]}
    missing = [dag_id for dag_id in PROJECT_DAGS if dag_id not in dags]
    return f"DAGs not parsed yet: {', '.join(missing)}" if missing else ""


@contextlib.contextmanager
def local_airflow(
    home: Path,
    *,
    port: int | None = None,
    stack_args: tuple[str, ...] = ("--auto-review", "--review-delay", str(REVIEW_DELAY_SECONDS)),
    timeout: float = START_TIMEOUT,
    on_progress=lambda message: None,
    label_studio: bool = False,
    settings: dict[str, str] | None = None,
) -> Iterator[LocalAirflow]:
    """The stand-in and `airflow standalone` wired to it, ready to use; both stopped by pid on exit.

    `home` is emptied first. Standalone's output goes to `home`/standalone.log, the stand-in's
    log to `home`/local-aws.log. With `label_studio`, a Label Studio (data and log under `home`)
    and its scripted reviewers too. `settings`: more environment for every Airflow process
    (`AIRFLOW__<SECTION>__<KEY>` values over the defaults here).
    """
    started = time.monotonic()
    if port is None:
        port = free_port()
    elif not port_is_free(port):
        raise RuntimeError(f"127.0.0.1:{port} is in use: choose another port, or none for a free one")
    if (running := _standalone_running_in(home)) is not None:
        raise RuntimeError(f"airflow standalone (pid {running}) already runs in {home}: stop it first")
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    # A fixed login instead of a generated password (only ever served on 127.0.0.1).
    (home / "passwords.json").write_text(json.dumps({USERNAME: PASSWORD}))
    on_progress("Starting the local stand-in for AWS (moto, A2I emulator, detector, scripted reviewer)...")
    stack = start_stack(*stack_args, log_path=home / "local-aws.log")
    process: subprocess.Popen | None = None
    studio: LabelStudioProcess | None = None
    reviewing = threading.Event()
    try:
        count = seed_images(stack)
        on_progress(f"  seeded {count} sample images into s3://{BUCKET}/images/")
        if label_studio:
            on_progress("Starting Label Studio (a fresh database takes about a minute)...")
            studio = start_label_studio(home / "label-studio-data", log_path=home / "label-studio.log")
            start_label_studio_reviewers(studio, reviewing)
        on_progress(f"Starting airflow standalone on 127.0.0.1:{port} (log: {home / 'standalone.log'})...")
        env = airflow_env(home, port, stack.conn_uri_env, studio.connection_json if studio else None)
        env |= settings or {}
        process = start_standalone(env, home / "standalone.log")
        (home / PID_FILE).write_text(str(process.pid))
        airflow = LocalAirflow(
            url=f"http://127.0.0.1:{port}",
            home=home,
            log_path=home / "standalone.log",
            stack=stack,
            process=process,
            env=env,
            studio=studio,
        )
        wait_until_ready(airflow, timeout)
        airflow.startup_seconds = time.monotonic() - started
        yield airflow
    finally:
        on_progress("Stopping Airflow and the stand-in...")
        with _interrupts_ignored():
            try:
                if process is not None:
                    stop_standalone(process)
            finally:
                reviewing.set()
                if studio is not None:
                    studio.stop()
                stack.stop()


def start_label_studio_reviewers(studio: LabelStudioProcess, stop: threading.Event) -> None:
    """Scripted reviewers answering every project's tasks, REVIEW_DELAY_SECONDS after each is made."""
    from local_labelstudio.reviewer import ScriptedLabelStudioReviewer

    reviewer = ScriptedLabelStudioReviewer(studio.url, studio.token, delay_seconds=REVIEW_DELAY_SECONDS)
    threading.Thread(target=reviewer.run, args=(stop, 2.0), name="label-studio-reviewer", daemon=True).start()


def _standalone_running_in(home: Path) -> int | None:
    """The pid of an `airflow standalone` that a previous start left running in `home`, if any."""
    try:
        pid = int((home / PID_FILE).read_text())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except (OSError, ValueError):
        return None
    return pid if b"airflow standalone" in command else None


def banner(airflow: LocalAirflow) -> str:
    lines = [
        "",
        f"Airflow is ready at {airflow.url}  (started in {airflow.startup_seconds:.0f} s)",
        f"  login: {airflow.username} / {airflow.password}",
        f"  aws_default points at the local stand-in (moto {airflow.stack.moto_url},"
        f" emulator {airflow.stack.emulator_url})",
        f"  the scripted reviewer answers each review about {REVIEW_DELAY_SECONDS} s after it starts",
        "",
        "1. Trigger review_workflow_setup with:",
        *(f"     {key}: {value}" for key, value in FORM_VALUES["review_workflow_setup"].items()),
        "   It returns the flow definition ARN (run page > ensure_flow_definition > Storage > XCom).",
        "2. Trigger detect_and_review with:",
        *(f"     {key}: {value}" for key, value in FORM_VALUES["detect_and_review"].items()),
        "",
        f"Logs: {airflow.log_path} and {airflow.stack.log_path}. Ctrl-C stops Airflow and the stand-in.",
    ]
    studio = airflow.studio
    if studio is not None:
        lines[-1:-1] = [
            f"Label Studio is at {studio.url}  (started in {studio.startup_seconds:.0f} s)",
            f"  login: {studio.username} / {studio.password}; label_studio_default points at it",
            f"  scripted reviewers answer each task about {REVIEW_DELAY_SECONDS} s after it is made",
            "To review in Label Studio instead of A2I:",
            "1. Trigger review_workflow_setup with:",
            *(
                f"     {key}: {value}"
                for key, value in LABEL_STUDIO_FORM_VALUES["review_workflow_setup"].items()
            ),
            "   It returns the project id (ensure_label_studio_project > XCom): 1 for the first project.",
            "2. Trigger detect_and_review with:",
            *(f"     {key}: {value}" for key, value in LABEL_STUDIO_FORM_VALUES["detect_and_review"].items()),
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make airflow", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--port", type=int, default=0, help="the UI's port on 127.0.0.1 (default: a free one)"
    )
    parser.add_argument(
        "--home", type=Path, default=DEFAULT_HOME, help=f"AIRFLOW_HOME (default {DEFAULT_HOME})"
    )
    parser.add_argument(
        "--review-backend",
        choices=("a2i", "labelstudio"),
        default="a2i",
        help="labelstudio: also run a local Label Studio (A2I's emulator runs either way)",
    )
    args = parser.parse_args(argv)
    # SIGTERM (a CI timeout, `kill`) stops both the way Ctrl-C does, instead of orphaning them.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        with local_airflow(
            args.home.resolve(),
            port=args.port or None,
            on_progress=print,
            label_studio=args.review_backend == "labelstudio",
        ) as airflow:
            print(banner(airflow), flush=True)
            while airflow.process.poll() is None:
                time.sleep(1)
            print(f"airflow standalone exited {airflow.process.returncode}:\n{airflow.log_tail()}")
            return 1
    except KeyboardInterrupt:
        print("Stopped.")
        return 0
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _request(url: str, body: dict[str, Any] | None = None, *, method: str | None = None, headers=None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method=method or ("POST" if body is not None else "GET"),
        headers={"Content-Type": "application/json", "Accept": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        payload = answer.read()
    return json.loads(payload) if payload else None


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


if __name__ == "__main__":
    sys.exit(main())
