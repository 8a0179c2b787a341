"""The harness: `python -m local_labelstudio` and what start_label_studio refuses."""

import contextlib
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading

import httpx
import pytest
from processes import wait_until_session_ends

from local_labelstudio.server import LOOPBACK, start_label_studio

# The CLI test starts a Label Studio of its own (after the session's, when run alone).
pytestmark = [pytest.mark.labelstudio, pytest.mark.timeout(900)]

STOP_SECONDS = 30


def test_a_taken_port_is_refused():
    with socket.create_server((LOOPBACK, 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ValueError, match=rf"port {port} is in use on 127.0.0.1"):
            start_label_studio(port=port)


def test_a_missing_virtualenv_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"run `make labelstudio-venv` first"):
        start_label_studio(executable=tmp_path / "label-studio")


def test_a_starter_that_ends_without_stopping_it_leaves_no_label_studio(copy_of_data_dir, project_root):
    """A test run ended by its timeout (os._exit: no clean-up runs) must not leave Label Studio."""
    starter = (
        "import os\n"
        "from local_labelstudio.server import start_label_studio\n"
        f"studio = start_label_studio({str(copy_of_data_dir)!r})\n"
        "print(studio.pid, studio.url, flush=True)\n"
        "os._exit(1)\n"
    )
    ended = subprocess.run(
        [sys.executable, "-c", starter],
        cwd=project_root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    pid, url = ended.stdout.split()

    assert wait_until_session_ends(int(pid), STOP_SECONDS) == set()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health")


def test_cli_prints_the_connection_first_and_stops_on_sigterm(copy_of_data_dir, project_root, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(project_root)}
    with (tmp_path / "cli.log").open("wb") as log:
        cli = subprocess.Popen(
            [sys.executable, "-m", "local_labelstudio", "--data-dir", str(copy_of_data_dir)],
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            start_new_session=True,
        )
    server_pid = None
    lines, reader = _lines(cli)
    try:
        name, _, value = lines.get(timeout=240).partition("=")
        banner = [lines.get(timeout=5) for _ in range(3)]
        server_pid = int(banner[0].split("(pid ")[1].split(",")[0])

        assert name == "AIRFLOW_CONN_LABEL_STUDIO_DEFAULT"
        connection = json.loads(value)
        assert connection["conn_type"] == "http"
        url = connection["host"]
        assert url.startswith(f"http://{LOOPBACK}:")
        assert banner[0].startswith(f"Label Studio: {url}")
        assert banner[1].startswith("login: admin@example.com / ")
        whoami = httpx.get(
            f"{url}/api/current-user/whoami", headers={"Authorization": f"Token {connection['password']}"}
        )
        assert whoami.json()["email"] == "admin@example.com"

        os.kill(cli.pid, signal.SIGTERM)

        assert cli.wait(STOP_SECONDS) == 0
        with pytest.raises(ProcessLookupError):
            os.kill(server_pid, 0)
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/health")
    finally:
        # Label Studio runs in a session of its own: after a failure, ask the CLI to stop it first.
        if cli.poll() is None:
            os.kill(cli.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                cli.wait(STOP_SECONDS)
        for group in (cli.pid, server_pid):
            if group is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
        cli.wait()
        reader.join(STOP_SECONDS)
        cli.stdout.close()


def _lines(process: subprocess.Popen) -> tuple[queue.Queue[str], threading.Thread]:
    """The lines the process prints, as they come (a thread reads them: select() cannot see what
    a buffered reader already took in)."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    reader = threading.Thread(target=read, name=f"cli-{process.pid}-stdout", daemon=True)
    reader.start()
    return lines, reader


def test_label_studio_keeps_the_seeded_secret_key(label_studio, prepared_data_dir):
    # One URL-safe key: Label Studio read it back (after two starts) instead of appending its own.
    lines = (prepared_data_dir.path / ".env").read_text().split()
    assert len(lines) == 1
    assert re.fullmatch(r"SECRET_KEY=[A-Za-z0-9_-]{40,}", lines[0])
