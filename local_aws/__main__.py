"""`python -m local_aws`: a local stand-in for the AWS services the DAGs use, in one process.

moto answers S3 and SageMaker models, endpoint configs and endpoints; the emulator answers what
moto lacks (A2I control plane and runtime, InvokeEndpoint, transform jobs) and proxies other
SageMaker calls to moto. The first line printed is the `aws_default` Airflow connection that points at both.
"""

import argparse
import ipaddress
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time

from moto.server import ThreadedMotoServer

from local_aws.actors.scripted_reviewer import ScriptedReviewer
from local_aws.core.moto_proxy import moto_client
from local_aws.core.server import LOOPBACK, EmulatorServer, local_address
from local_aws.emulator import build_emulator

log = logging.getLogger("local_aws")

EMULATED_SERVICES = ("sagemaker", "sagemaker-a2i-runtime", "sagemaker-runtime")
REVIEWER_STOP_SECONDS = 5
# How often --exit-with-parent checks that the parent process is still there.
PARENT_WATCH_SECONDS = 1.0
# A host as it goes in a URL: a DNS name or an IPv4 address, with no scheme, port or path.
HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


def connection(region: str, moto_url: str, emulator_url: str) -> dict:
    """An Airflow AWS connection: moto for every service, the emulator for the SageMaker ones."""
    return {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {
            "region_name": region,
            "endpoint_url": moto_url,
            "service_config": {service: {"endpoint_url": emulator_url} for service in EMULATED_SERVICES},
        },
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_aws",
        description="moto plus an emulator of A2I and InvokeEndpoint, on 127.0.0.1 by default. The first"
        " line printed is AIRFLOW_CONN_AWS_DEFAULT=<connection JSON>; stop with SIGTERM or Ctrl-C.",
    )
    parser.add_argument(
        "--host",
        default=LOOPBACK,
        help="IPv4 address moto and the emulator listen on (default 127.0.0.1; 0.0.0.0 in a container)",
    )
    parser.add_argument(
        "--advertise-host",
        help="host name the printed connection and URLs use, e.g. the container's name on a compose"
        " network (default: 127.0.0.1 when listening on 0.0.0.0, else --host)",
    )
    parser.add_argument(
        "--region", default="us-east-1", help="AWS region of every resource (default us-east-1)"
    )
    parser.add_argument(
        "--exit-with-parent",
        action="store_true",
        help="stop when the process that started this one ends, however it ends (a test run killed "
        "before its clean-up, e.g. by its timeout, leaves no server behind)",
    )
    parser.add_argument("--moto-port", type=int, default=0, help="moto's port (default: a free one)")
    parser.add_argument("--port", type=int, default=0, help="the emulator's port (default: a free one)")
    parser.add_argument(
        "--flow-activation-seconds",
        type=float,
        default=1.0,
        help="how long a new flow definition stays Initializing (default 1)",
    )
    parser.add_argument(
        "--detector-latency",
        type=float,
        default=0.0,
        help="seconds each InvokeEndpoint, and each image of a transform job, takes (default 0)",
    )
    parser.add_argument(
        "--endpoint-capacity",
        type=int,
        help="InvokeEndpoint requests the model serves at once, across all endpoints (and images a"
        " transform job works on at once, at most its instances x MaxConcurrentTransforms); the others wait"
        " for a free slot (default: no limit)",
    )
    parser.add_argument(
        "--auto-review", action="store_true", help="answer pending human loops with the scripted reviewer"
    )
    parser.add_argument(
        "--review-delay",
        type=float,
        default=0.0,
        help="seconds a loop waits before it is answered (default 0)",
    )
    parser.add_argument(
        "--review-workers", type=int, default=1, help="workers answering each loop, 1-3 (default 1)"
    )
    args = parser.parse_args(argv)
    try:
        ipaddress.IPv4Address(args.host)
    except ValueError:
        parser.error(f"--host {args.host!r} is not an IPv4 address (127.0.0.1, 0.0.0.0, ...)")
    if args.advertise_host is None:
        args.advertise_host = local_address(args.host)
    elif not HOST_NAME.fullmatch(args.advertise_host):
        parser.error(f"--advertise-host {args.advertise_host!r} is not a host name (e.g. local-aws)")
    if not 1 <= args.review_workers <= 3:
        parser.error(f"--review-workers {args.review_workers} is not between 1 and 3")
    if args.endpoint_capacity is not None and args.endpoint_capacity < 1:
        parser.error(f"--endpoint-capacity {args.endpoint_capacity} is below 1")
    for name in ("flow_activation_seconds", "detector_latency", "review_delay"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)} is negative")
    for name in ("moto_port", "port"):
        if getattr(args, name) and not _port_is_free(args.host, getattr(args, name)):
            option = f"--{name.replace('_', '-')} {getattr(args, name)}"
            parser.error(f"{option}: the port is in use on {args.host}")
    return args


def _port_is_free(host: str, port: int) -> bool:
    try:
        socket.create_server((host, port)).close()
    except OSError:
        return False
    return True


def _stop_with_parent(stop: threading.Event) -> None:
    """Set `stop` once this process's parent is gone (it is then reparented: its parent id changes)."""
    parent = os.getppid()
    while not stop.wait(PARENT_WATCH_SECONDS):
        if os.getppid() != parent:
            stop.set()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    started = time.monotonic()
    stop = threading.Event()
    received: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _: (received.append(number), stop.set()))
    if args.exit_with_parent:
        threading.Thread(target=_stop_with_parent, args=(stop,), name="parent-watch", daemon=True).start()

    # The servers reach each other on this machine; clients are given URLs with the advertised host.
    moto = ThreadedMotoServer(ip_address=args.host, port=args.moto_port, verbose=False)
    moto.start()
    moto_port = moto.get_host_and_port()[1]
    moto_url = f"http://{local_address(args.host)}:{moto_port}"
    server = EmulatorServer(args.port, args.host)
    public_moto_url = f"http://{args.advertise_host}:{moto_port}"
    public_emulator_url = f"http://{args.advertise_host}:{server.port}"
    emulator = build_emulator(
        args.region,
        moto_url,
        public_emulator_url,
        args.flow_activation_seconds,
        args.detector_latency,
        args.endpoint_capacity,
    )
    server.start(emulator.app())
    conn = connection(args.region, public_moto_url, public_emulator_url)
    print(f"AIRFLOW_CONN_AWS_DEFAULT={json.dumps(conn)}", flush=True)

    reviewer = None
    if args.auto_review:
        scripted = ScriptedReviewer(
            server.url,
            moto_client("s3", moto_url, args.region),
            workers=args.review_workers,
            delay_seconds=args.review_delay,
        )
        reviewer = threading.Thread(target=scripted.run, args=(stop,), name="scripted-reviewer", daemon=True)
        reviewer.start()

    print(_banner(args, public_moto_url, public_emulator_url, time.monotonic() - started), flush=True)
    stop.wait()

    log.info("Got %s, stopping", signal.Signals(received[0]).name if received else "no parent any more")
    if reviewer is not None:
        reviewer.join(REVIEWER_STOP_SECONDS)
    server.stop()
    moto.stop()
    log.info("Stopped")
    return 0


def _banner(args: argparse.Namespace, moto_url: str, emulator_url: str, startup_seconds: float) -> str:
    review = (
        f"on: {args.review_workers} scripted worker(s), {args.review_delay:g}s after a loop starts"
        if args.auto_review
        else "off (answer loops through the reviewer API)"
    )
    capacity = (
        "no limit on concurrent requests"
        if args.endpoint_capacity is None
        else f"at most {args.endpoint_capacity} at once (the others wait)"
    )
    return "\n".join(
        [
            f"listening on {args.host}; the URLs below use the host {args.advertise_host}",
            f"moto (S3, SageMaker models/endpoint configs/endpoints): {moto_url}",
            f"emulator (A2I control plane + runtime, InvokeEndpoint, transform jobs): {emulator_url}"
            f"  region {args.region}",
            f"reviewer API: GET {emulator_url}/reviewer/loops?status=pending|all",
            f"              POST {emulator_url}/reviewer/loops/<name>/answers"
            ' {"workerId", "answerContent": {"annotatedResult": ...}, "timeSpentInSeconds"?}',
            f"              POST {emulator_url}/reviewer/loops/<name>/fail"
            ' {"FailureCode": "Expired"|"InternalError"|"ValidationError", "FailureReason"}',
            f"test controls: POST {emulator_url}/_emulator/faults, POST {emulator_url}/_emulator/reset,"
            f" GET {emulator_url}/_emulator/health",
            f"scripted reviewer: {review}",
            f"flow definitions turn Active {args.flow_activation_seconds:g}s after creation",
            f"InvokeEndpoint: {args.detector_latency:g}s each, {capacity}; transform jobs: as fast per image,"
            " data logs in moto's CloudWatch Logs; a fault on RunTransformJob fails the next job",
            f"servers up in {startup_seconds:.2f}s (after imports); stop with Ctrl-C or SIGTERM",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
