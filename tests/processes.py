"""What is left of a process tree, read from /proc: for tests that a server leaves nothing behind."""

from __future__ import annotations

import time
from pathlib import Path


def session_members(session_id: int) -> set[int]:
    """Pids of the live processes in a session (field 6 of /proc/<pid>/stat)."""
    members = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[3]) == session_id and fields[0] != "Z":
            members.add(int(stat.parent.name))
    return members


def wait_until_session_ends(session_id: int, seconds: float) -> set[int]:
    """The session's live processes once none is left, or when `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while (members := session_members(session_id)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return members
