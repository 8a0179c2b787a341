"""What the standalone fault cases share: the settings standalone runs with, waiting on it, and
the processes of its session, which are ours to find and kill (by pid, never by name)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REVIEW_DELAY_SECONDS = 15
RUN_TIMEOUT = 300
SETTINGS = {
    # Tasks retry 2 s after a failure (then 4, 8...); the wait looks every 2 s.
    "AIRFLOW__HITL_DETECTION__RETRY_DELAY_SECONDS": "2",
    "AIRFLOW__HITL_DETECTION__REVIEW_POLL_SECONDS": "2",
    # A triggerer silent this long is dead, and its triggers go to another one.
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
}


@dataclass
class OwnProcesses:
    """Processes of the standalone this suite started (its session), found and ended by pid only."""

    session: int
    started: list[subprocess.Popen] = field(default_factory=list)

    def matching(self, text: str) -> list[int]:
        """Pids in the session whose command line (or process title) holds `text`."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            try:
                if os.getsid(pid) != self.session:
                    continue
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, ProcessLookupError):
                continue
            if text in command:
                found.append(pid)
        return found

    def kill(self, pid: int, expected: str) -> None:
        """SIGKILL `pid`, after checking it is still ours and still what was meant."""
        assert os.getsid(pid) == self.session, f"pid {pid} is not in standalone's session {self.session}"
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        assert expected in command, f"pid {pid} runs {command!r}, not {expected!r}"
        os.kill(pid, signal.SIGKILL)

    def start(self, command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
        with log.open("ab") as output:
            process = subprocess.Popen(
                command,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.started.append(process)
        return process

    def stop_started(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def wait_for(condition, timeout: float, what: str, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout:.0f} s")
        time.sleep(poll)
