"""`python -m local_labelstudio`: a real Label Studio on 127.0.0.1, in the foreground.

The first line printed is the `label_studio_default` Airflow connection; the URL and the admin's
login follow. With `--aws-stack` the local stand-in for AWS runs beside it (`make stack
REVIEW_BACKEND=labelstudio`), its `aws_default` connection printed second; with `--auto-review`
scripted reviewers answer every project's tasks through Label Studio's API. SIGTERM or Ctrl-C
stops everything (Label Studio by its process group, the stand-in by its pid).
"""

import argparse
import shlex
import signal
import sys
import threading

from local_labelstudio.server import LOOPBACK, LabelStudioProcess, port_is_free, start_label_studio


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_labelstudio",
        description="Label Studio from .venv-labelstudio on 127.0.0.1. The first line printed is"
        " AIRFLOW_CONN_LABEL_STUDIO_DEFAULT=<connection JSON>; stop with SIGTERM or Ctrl-C.",
    )
    parser.add_argument("--port", type=int, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument(
        "--data-dir",
        help="where its SQLite database and media live; reuse one to keep projects across starts"
        " (default: a temporary directory, deleted on stop)",
    )
    parser.add_argument("--log", help="file Label Studio's output goes to (default: a new temporary file)")
    parser.add_argument(
        "--aws-stack", action="store_true", help="also run the local stand-in for AWS (python -m local_aws)"
    )
    parser.add_argument(
        "--aws-stack-args", default="", help="arguments for the stand-in, e.g. '--detector-latency 0.2'"
    )
    parser.add_argument(
        "--auto-review",
        action="store_true",
        help="answer every project's pending tasks with scripted reviewers (through the REST API)",
    )
    parser.add_argument(
        "--review-delay",
        type=float,
        default=10.0,
        help="seconds a task waits before it is answered (default 10)",
    )
    parser.add_argument(
        "--review-workers", type=int, default=1, help="reviewers answering each task (default 1)"
    )
    args = parser.parse_args(argv)
    if args.port is not None and not port_is_free(args.port):
        parser.error(f"--port {args.port}: the port is in use on {LOOPBACK}")
    return args


class _Stopped(Exception):
    """Raised by the SIGTERM/SIGINT handler, wherever the main thread is (startup included)."""


def _raise_stopped(signum: int, _: object) -> None:
    raise _Stopped(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _raise_stopped)
    studio = stack = None
    stop = threading.Event()
    try:
        # A signal during the start stops the half-started Label Studio inside start_label_studio.
        studio = start_label_studio(data_dir=args.data_dir, port=args.port, log_path=args.log)
        print(studio.conn_env, flush=True)
        if args.aws_stack:
            from local_aws.stack import start_stack

            stack = start_stack(*shlex.split(args.aws_stack_args))
            print(f"AIRFLOW_CONN_AWS_DEFAULT={stack.conn_uri_env}", flush=True)
        print(_banner(studio), flush=True)
        if stack is not None:
            print(
                f"local stand-in for AWS: moto {stack.moto_url}, emulator {stack.emulator_url} "
                f"(pid {stack.pid}, log {stack.log_path})",
                flush=True,
            )
        if args.auto_review:
            _start_reviewers(studio, args, stop)
        studio.process.wait()
        print(f"Label Studio exited by itself with code {studio.process.returncode}", file=sys.stderr)
        return 1
    except _Stopped as stopped:
        print(f"Got {stopped}, stopping", file=sys.stderr)
        return 0
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)  # a second signal must not cut the stop short
        stop.set()
        if stack is not None:
            stack.stop()
        if studio is not None:
            studio.stop()


def _start_reviewers(studio: LabelStudioProcess, args: argparse.Namespace, stop: threading.Event) -> None:
    from local_labelstudio.reviewer import ScriptedLabelStudioReviewer

    reviewer = ScriptedLabelStudioReviewer(
        studio.url, studio.token, workers=args.review_workers, delay_seconds=args.review_delay
    )
    threading.Thread(target=reviewer.run, args=(stop, 1.0), name="scripted-reviewer", daemon=True).start()
    print(
        f"scripted reviewers: {args.review_workers} answer every project's tasks "
        f"{args.review_delay:g}s after a task is made",
        flush=True,
    )


def _banner(studio: LabelStudioProcess) -> str:
    return "\n".join(
        [
            f"Label Studio: {studio.url}  (pid {studio.pid}, up in {studio.startup_seconds:.1f}s)",
            f"login: {studio.username} / {studio.password}",
            f"legacy API token: {studio.token}",
            f"data dir: {studio.data_dir}",
            f"log: {studio.log_path}",
            "stop with Ctrl-C or SIGTERM",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
