"""Measure detect_and_review at scale against the local stand-in: wall time per stage and memory.

    python scripts/benchmark.py --images 1000 --latency 0.05

Generates N images, runs review_workflow_setup and detect_and_review as real DAG runs (the
scripted reviewer answers), and prints how long each task took (summed over its batches), the
run's wall time, the process's peak resident memory and the number of A2I calls. Run it twice
with different N to see memory stay flat and time grow with images / batch size. Measured here,
never asserted in a test.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import demo  # scripts/ is on sys.path when this file runs as a script

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05, help="simulated endpoint latency, seconds")
    args = parser.parse_args()

    demo.prepare_airflow_environment(tempfile.mkdtemp(prefix="hitl-bench-airflow-"))
    from local_aws.samples import generate_image
    from local_aws.stack import start_stack

    calls: collections.Counter[str] = collections.Counter()
    count_botocore_calls(calls)
    stack_args = (
        "--auto-review",
        "--detector-latency",
        str(args.latency),
        "--flow-activation-seconds",
        "0.1",
    )
    with start_stack(*stack_args) as stack:
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = stack.conn_uri_env
        s3 = stack.client("s3")
        s3.create_bucket(Bucket=demo.BUCKET)
        started = time.monotonic()
        for index in range(args.images):
            body, _ = generate_image(index, "jpeg")
            s3.put_object(Bucket=demo.BUCKET, Key=f"images/bench-{index:06d}.jpg", Body=body)
        print(f"generated and uploaded {args.images} images in {time.monotonic() - started:.1f} s")

        dags = demo.load_dags()
        flow_definition_arn = demo.run_setup(dags.get_dag("review_workflow_setup"))
        calls.clear()
        started = time.monotonic()
        run = dags.get_dag("detect_and_review").test(run_conf=demo.run_conf(flow_definition_arn))
        wall = time.monotonic() - started

    per_task: dict[str, list[float]] = collections.defaultdict(list)
    for ti in run.get_task_instances():
        if ti.start_date and ti.end_date:
            per_task[ti.task_id].append((ti.end_date - ti.start_date).total_seconds())
    report = {
        "images": args.images,
        "endpoint_latency_s": args.latency,
        "state": str(run.get_state()),
        "wall_s": round(wall, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "tasks": {
            task: {"instances": len(times), "busy_s": round(sum(times), 1)}
            for task, times in sorted(per_task.items())
        },
        "aws_calls": dict(sorted(calls.items())),
    }
    print(json.dumps(report, indent=2))
    return 0 if report["state"] == "success" else 1


def count_botocore_calls(calls: collections.Counter) -> None:
    """Count every AWS operation any client of this process sends, by service and name."""
    import botocore.handlers

    def count(model, **_):
        calls[f"{model.service_model.service_name}.{model.name}"] += 1

    botocore.handlers.BUILTIN_HANDLERS.append(("before-call", count))


if __name__ == "__main__":
    sys.exit(main())
