"""Run a command, and stop it once the process that started this one is gone.

`label-studio start` cannot watch its parent: a test run that ends without its clean-up (its
timeout ends it with `os._exit`) would leave the server running. The command runs as a child in
this process's group, so signalling the group reaches both; SIGTERM and SIGINT sent to this process
alone are passed on. Exits with the command's exit code.

    python -m local_labelstudio.with_parent COMMAND [ARG ...]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

# How often the parent is checked, and how long the command has to stop before it is killed.
WATCH_SECONDS = 1.0
STOP_SECONDS = 10.0


def run_with_parent(command: list[str]) -> int:
    parent = os.getppid()
    child = subprocess.Popen(command)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _: child.send_signal(number))
    while True:
        try:
            code = child.wait(WATCH_SECONDS)
        except subprocess.TimeoutExpired:
            if os.getppid() == parent:
                continue
            # Reparented: whoever started us is gone without stopping us.
            child.terminate()
            try:
                code = child.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                code = child.wait()
        return code if code >= 0 else 128 - code  # killed by signal N: 128 + N, as a shell says


def main(argv: list[str] | None = None) -> int:
    command = sys.argv[1:] if argv is None else argv
    if not command:
        print("usage: python -m local_labelstudio.with_parent COMMAND [ARG ...]", file=sys.stderr)
        return 2
    return run_with_parent(command)


if __name__ == "__main__":
    sys.exit(main())
