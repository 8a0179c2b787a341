"""Start and stop a real Label Studio (from .venv-labelstudio) on 127.0.0.1, for tests and demos.

with start_label_studio() as studio:
    os.environ["AIRFLOW_CONN_LABEL_STUDIO_DEFAULT"] = studio.connection_json
    ...

Label Studio pins packages that conflict with Airflow's, so it runs from its own virtualenv
(`make labelstudio-venv`) as a subprocess in its own session, stopped by its process group id; and
by itself once the process that started it is gone without stopping it (`with_parent`).
"""

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LABEL_STUDIO = PROJECT_ROOT / ".venv-labelstudio" / "bin" / "label-studio"
WITH_PARENT = Path(__file__).with_name("with_parent.py")  # run as a script: it needs only the stdlib
LOOPBACK = "127.0.0.1"
CONN_ENV_NAME = "AIRFLOW_CONN_LABEL_STUDIO_DEFAULT"
# Label Studio's users log in with an e-mail address. The token is applied when the user is first
# created in a data dir (and must be longer than 5 characters); a later start keeps the first one.
DEFAULT_USERNAME = "admin@example.com"
DEFAULT_PASSWORD = "local-label-studio"
DEFAULT_TOKEN = "local-label-studio-legacy-token"
# The first start migrates a fresh SQLite database: about a minute on two busy cores.
DEFAULT_START_TIMEOUT = 300.0
DEFAULT_STOP_TIMEOUT = 15.0
_POLL_SECONDS = 0.5
# What Label Studio prints when it moves to another port because the one it was given is taken.
_PORT_MOVED = "is in use."


class LabelStudioProcess:
    """A running `label-studio start` in its own process group; stop it with `stop()` or a `with` block."""

    def __init__(
        self,
        process: subprocess.Popen,
        url: str,
        username: str,
        password: str,
        token: str,
        data_dir: Path,
        log_path: Path,
        owns_data_dir: bool,
    ) -> None:
        self.process = process
        self.url = url
        self.username = username
        self.password = password
        self.token = token
        """The legacy API token (`Authorization: Token ...`)."""
        self.data_dir = data_dir
        self.log_path = log_path
        self.startup_seconds: float | None = None
        self._owns_data_dir = owns_data_dir

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def connection(self) -> dict[str, Any]:
        """The Airflow connection `label_studio_default`: base URL as host, API token as password."""
        return {"conn_type": "http", "host": self.url, "password": self.token}

    @property
    def connection_json(self) -> str:
        return json.dumps(self.connection)

    @property
    def conn_env(self) -> str:
        """`AIRFLOW_CONN_LABEL_STUDIO_DEFAULT=<connection JSON>`, as a shell or an env file takes it."""
        return f"{CONN_ENV_NAME}={self.connection_json}"

    def new_personal_access_token(self) -> str:
        """A new personal access token (a JWT refresh token) for the admin user.

        Label Studio allows one per user and shows its signature only once, when it is created
        (`POST /api/token`): the admin's existing tokens are revoked first (`/api/token/blacklist`
        accepts the signature-less form that `GET /api/token` lists).
        """
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Token {self.token}"}) as client:
            listed = client.get("/api/token")
            listed.raise_for_status()
            for existing in listed.json():
                client.post("/api/token/blacklist", json={"refresh": existing["token"]}).raise_for_status()
            created = client.post("/api/token")
            created.raise_for_status()
            return created.json()["token"]

    def stop(self, timeout: float = DEFAULT_STOP_TIMEOUT) -> int:
        """SIGTERM the process group (SIGINT does not stop Label Studio), SIGKILL it after `timeout`.

        Returns the exit code; a data dir this object created is removed.
        """
        if self.process.poll() is None:
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.pid, signal.SIGKILL)
                self.process.wait()
        if self._owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return self.process.returncode

    def __enter__(self) -> "LabelStudioProcess":
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def start_label_studio(
    data_dir: str | Path | None = None,
    port: int | None = None,
    log_path: str | Path | None = None,
    *,
    username: str = DEFAULT_USERNAME,
    password: str = DEFAULT_PASSWORD,
    token: str = DEFAULT_TOKEN,
    timeout: float = DEFAULT_START_TIMEOUT,
    executable: str | Path = LABEL_STUDIO,
) -> LabelStudioProcess:
    """Run Label Studio on 127.0.0.1:`port` and return once `GET /health` answers.

    `data_dir` holds its SQLite database, media and secret key (a new temporary directory, removed
    on stop, by default; an existing one restarts without migrations). `port`: a free one by default;
    a taken one is refused. Its output goes to `log_path`, by default a new file in the temp directory.
    """
    executable = Path(executable)
    if not executable.exists():
        raise FileNotFoundError(f"{executable} does not exist: run `make labelstudio-venv` first")
    if len(token) <= 5:
        raise ValueError(
            f"token {token!r} is too short: Label Studio ignores tokens of 5 characters or fewer"
        )
    if port is None:
        port = free_port()
    elif not port_is_free(port):
        raise ValueError(f"port {port} is in use on {LOOPBACK}")
    owns_data_dir = data_dir is None
    data_dir = Path(tempfile.mkdtemp(prefix="label-studio-") if data_dir is None else data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    _seed_secret_key(data_dir)
    if log_path is None:
        handle, name = tempfile.mkstemp(prefix="label-studio-", suffix=".log")
        os.close(handle)
        log_path = name
    log_path = Path(log_path)
    log_start = log_path.stat().st_size if log_path.exists() else 0
    url = f"http://{LOOPBACK}:{port}"

    started = time.monotonic()
    command = [
        str(executable),
        "start",
        "--no-browser",
        "--internal-host",
        LOOPBACK,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--username",
        username,
        "--password",
        password,
        "--user-token",
        token,
        "--enable-legacy-api-token",
    ]
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, str(WITH_PARENT), *command],  # it goes when its starter does, however
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=_environment(url, data_dir),
            start_new_session=True,
        )
    studio = LabelStudioProcess(process, url, username, password, token, data_dir, log_path, owns_data_dir)
    try:
        _wait_until_healthy(studio, started + timeout, log_start)
    except BaseException:
        studio.stop()
        raise
    studio.startup_seconds = time.monotonic() - started
    return studio


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def port_is_free(port: int) -> bool:
    try:
        socket.create_server((LOOPBACK, port)).close()
    except OSError:
        return False
    return True


def _seed_secret_key(data_dir: Path) -> None:
    """Give a new data dir a secret key that Label Studio reads back on every start.

    Label Studio generates one into `<data dir>/.env` when there is none, but reads that file with
    django-environ, which takes a value starting with `$` for a reference to another variable: about
    one key in fifty is then lost, a new one made at each start, and every personal access token
    (a JWT signed with that key) stops working. A URL-safe key has no `$`.
    """
    env_file = data_dir / ".env"
    if not env_file.exists():
        with os.fdopen(os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(f"SECRET_KEY={secrets.token_urlsafe(48)}\n")


def _environment(url: str, data_dir: Path) -> dict[str, str]:
    """The caller's environment, less what would leak into Label Studio's own virtualenv and settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV"}
    }
    # Label Studio reads each setting X from LABEL_STUDIO_X, else HEARTEX_X, else plain X (HOST,
    # PORT, USERNAME, ...): the prefixed names below win over whatever the caller has set.
    settings = {
        "HOST": url,
        # Before --data-dir is read, settings are imported once with this dir (else ~/.local/share).
        "BASE_DATA_DIR": str(data_dir),
        "DISABLE_SIGNUP_WITHOUT_LINK": "true",
        # Nothing leaves this machine: no version check on PyPI, no usage analytics
        # (tele.labelstud.io), no error reports to Label Studio's Sentry from server or browser.
        "LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
        # Storages refuse S3 endpoints on loopback and private addresses unless this is off: the
        # local S3 (moto) is on 127.0.0.1.
        "SSRF_PROTECTION_ENABLED": "false",
    }
    env.update({f"LABEL_STUDIO_{name}": value for name, value in settings.items()})
    return env


def _wait_until_healthy(studio: LabelStudioProcess, deadline: float, log_start: int) -> None:
    with httpx.Client(base_url=studio.url, timeout=2) as client:
        while True:
            try:
                if client.get("/health").status_code == httpx.codes.OK:
                    break
            except httpx.TransportError:
                pass
            if studio.process.poll() is not None:
                raise RuntimeError(
                    f"Label Studio exited with code {studio.process.returncode}; {_log_tail(studio)}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"{studio.url}/health did not answer; {_log_tail(studio)}")
            time.sleep(_POLL_SECONDS)
    with studio.log_path.open("rb") as log:
        log.seek(log_start)
        this_run = log.read().decode(errors="replace")
    if _PORT_MOVED in this_run:
        # The port was taken between our check and Label Studio's: it moved on to another one, and
        # what answered above is whoever took ours.
        raise RuntimeError(f"Label Studio did not get {studio.url}; {_log_tail(studio)}")


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the whole group is gone already
        os.killpg(pid, signum)


def _log_tail(studio: LabelStudioProcess, lines: int = 30) -> str:
    tail = studio.log_path.read_text(errors="replace").splitlines()[-lines:]
    return "\n".join([f"its log {studio.log_path} ends:", *tail])
