"""`airflow standalone` (scheduler, LocalExecutor, triggerer, API server) with the stand-in, as
`make airflow` starts it, for the faults that only a real scheduler and triggerer can meet: a task
process killed, a triggerer restarted, a run cleared from the REST API. `make test-faults`.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from standalone_world import REVIEW_DELAY_SECONDS, SETTINGS, OwnProcesses

from local_aws.workflow import create_active_flow_definition

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "include" / "templates" / "a2i_bounding_box.liquid.html"


@pytest.fixture(scope="session")
def airflow(project_root: Path) -> Iterator[Any]:
    """Standalone and the stand-in (its scripted reviewer answers each loop REVIEW_DELAY_SECONDS
    after it starts), both stopped by pid at the end; their logs kept in test-artifacts/faults/."""
    from scripts.airflow_local import local_airflow

    artifacts = project_root / "test-artifacts" / "faults"
    artifacts.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="airflow-faults-"))
    try:
        with local_airflow(
            home,
            stack_args=(
                "--auto-review",
                "--review-delay",
                str(REVIEW_DELAY_SECONDS),
                "--flow-activation-seconds",
                "0.1",
            ),
            settings=SETTINGS,
        ) as running:
            print(f"airflow standalone ready in {running.startup_seconds:.0f} s at {running.url}")
            yield running
    finally:
        for log in home.glob("*.log"):
            shutil.copy(log, artifacts / log.name)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def flow_definition_arn(airflow) -> str:
    from scripts.airflow_local import BUCKET

    return create_active_flow_definition(
        airflow.stack.client("sagemaker"),
        name="hitl-faults-review",
        template=TEMPLATE.read_text(),
        s3_output_path=f"s3://{BUCKET}/a2i-output/",
    )


@pytest.fixture
def own_processes(airflow) -> Iterator[OwnProcesses]:
    processes = OwnProcesses(session=airflow.pid)
    try:
        yield processes
    finally:
        processes.stop_started()
