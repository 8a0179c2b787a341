"""Measure how long each DAG file takes to parse, the way the DAG processor pays for it.

Each file is parsed in a fresh interpreter after `airflow.sdk` is imported (every processor has
that loaded already), and the best of a few runs is reported. Measured, never asserted.
"""

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


def parse_seconds(path: Path, env: dict[str, str]) -> float:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], env=env, capture_output=True, text=True, check=True
    )
    return float(result.stdout.strip().splitlines()[-1])


def main() -> int:
    dag_files = sorted(p for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_"))
    if not dag_files:
        print("no DAG files in dags/")
        return 0
    with tempfile.TemporaryDirectory(prefix="airflow-home-") as home:
        env = dict(os.environ, AIRFLOW_HOME=home, AIRFLOW__CORE__LOAD_EXAMPLES="False")
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])
        for path in dag_files:
            best = min(parse_seconds(path, env) for _ in range(RUNS))
            print(f"{path.relative_to(ROOT)}: {best * 1000:.0f} ms (best of {RUNS})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
