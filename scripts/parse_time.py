"""Measure how long each DAG file takes to parse, the way the DAG processor pays for it.

Each file is parsed in a fresh interpreter after `airflow.sdk` is imported (every processor has
that loaded already), and the best of a few runs is reported. Beside the DAG files, a minimal
reference DAG holding only the Amazon provider's three SageMaker endpoint operators is timed the
same way, and each DAG file's time is also given as a ratio to it. Measured, never asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3
PROBE = """
import importlib.util, sys, time
import airflow.sdk  # already loaded in a DAG processor
path = sys.argv[1]
start = time.perf_counter()
spec = importlib.util.spec_from_file_location("dag_under_test", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(f"{time.perf_counter() - start:.4f}")
"""
REFERENCE_NAME = "reference: the provider's 3 SageMaker endpoint operators"
# What any DAG deploying an endpoint with the Amazon provider pays at least.
REFERENCE_DAG = '''"""A reference airflow DAG: the provider's SageMaker endpoint operators, nothing else."""

from datetime import datetime

from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerEndpointConfigOperator,
    SageMakerEndpointOperator,
    SageMakerModelOperator,
)
from airflow.sdk import DAG

PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/reference"

with DAG("sagemaker_endpoint_reference", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):
    model = SageMakerModelOperator(
        task_id="model",
        config={
            "ModelName": "reference",
            "PrimaryContainer": {"ModelPackageName": PACKAGE},
            "ExecutionRoleArn": "arn:aws:iam::123456789012:role/reference",
        },
    )
    endpoint_config = SageMakerEndpointConfigOperator(
        task_id="endpoint_config",
        config={
            "EndpointConfigName": "reference",
            "ProductionVariants": [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "reference",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m4.xlarge",
                }
            ],
        },
    )
    endpoint = SageMakerEndpointOperator(
        task_id="endpoint",
        config={"EndpointName": "reference", "EndpointConfigName": "reference"},
        wait_for_completion=True,
    )
    model >> endpoint_config >> endpoint
'''


class ParseError(Exception):
    """A DAG file did not parse."""


def parse_seconds(path: Path, env: dict[str, str]) -> float:
    """Seconds to parse `path`; ParseError (with the error's last line) when it does not parse."""
    result = subprocess.run([sys.executable, "-c", PROBE, str(path)], env=env, capture_output=True, text=True)
    if result.returncode:
        lines = result.stderr.strip().splitlines()
        raise ParseError(lines[-1] if lines else f"exit status {result.returncode}")
    return float(result.stdout.strip().splitlines()[-1])


def dag_files() -> list[Path]:
    return sorted(p for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_"))


def measure(runs: int = RUNS) -> dict:
    """{"runs", "reference_s", "files": {path: seconds, or None}, "errors": {path: message}}: the best
    of `runs` parses of each file; a file that does not parse is reported, not timed."""
    files: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="airflow-home-") as home:
        env = dict(os.environ, AIRFLOW_HOME=home, AIRFLOW__CORE__LOAD_EXAMPLES="False")
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])
        reference = Path(home) / "sagemaker_endpoint_reference.py"
        reference.write_text(REFERENCE_DAG)
        reference_s = min(parse_seconds(reference, env) for _ in range(runs))
        for path in dag_files():
            name = str(path.relative_to(ROOT))
            try:
                files[name] = min(parse_seconds(path, env) for _ in range(runs))
            except ParseError as error:
                files[name], errors[name] = None, str(error)
    return {"runs": runs, "reference_s": reference_s, "files": files, "errors": errors}


def format_times(times: dict) -> str:
    reference = times["reference_s"]
    lines = [f"DAG file parse times (best of {times['runs']}), as a ratio to the reference:"]
    width = max(len(name) for name in [REFERENCE_NAME, *times["files"]])
    lines.append(f"  {REFERENCE_NAME.ljust(width)}  {reference * 1000:6.0f} ms  1.00x")
    for name, seconds in times["files"].items():
        if seconds is None:
            lines.append(f"  {name.ljust(width)}  does not parse: {times['errors'][name]}")
        else:
            lines.append(f"  {name.ljust(width)}  {seconds * 1000:6.0f} ms  {seconds / reference:.2f}x")
    return "\n".join(lines)


def main() -> int:
    if not dag_files():
        print("no DAG files in dags/")
        return 0
    times = measure()
    print(format_times(times))
    return 1 if times["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
