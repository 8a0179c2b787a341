"""What the review plugin tests share: an Active flow definition on the stand-in, the reviewer API,
and botocore event handlers that count (or react to) the calls our hooks make."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from collections.abc import Callable

import pytest
import requests

from local_aws.workflow import create_active_flow_definition

OUTPUT_BUCKET = "a2i-output"


@pytest.fixture
def make_flow_definition(aws, project_root) -> Callable[..., str]:
    """Create an Active flow definition over the project's worker template; returns its ARN."""
    sagemaker = aws.client("sagemaker")
    aws.client("s3").create_bucket(Bucket=OUTPUT_BUCKET)
    template = (project_root / "include" / "templates" / "a2i_bounding_box.liquid.html").read_text()

    def make(name: str = "review-boxes", task_count: int = 1) -> str:
        return create_active_flow_definition(
            sagemaker,
            name=name,
            template=template,
            s3_output_path=f"s3://{OUTPUT_BUCKET}/reviews",
            task_count=task_count,
        )

    return make


@pytest.fixture
def flow_definition(make_flow_definition) -> str:
    return make_flow_definition()


class Reviewer:
    """The stand-in's reviewer API: what a worker does in the A2I worker portal."""

    def __init__(self, emulator_url: str) -> None:
        self.url = f"{emulator_url}/reviewer/loops"

    def answer(self, loop_name: str, boxes: list[dict], worker_id: str = "worker-1") -> dict:
        answer = {
            "annotatedResult": {"boundingBoxes": boxes, "inputImageProperties": {"width": 640, "height": 480}}
        }
        return self._post(f"{loop_name}/answers", {"workerId": worker_id, "answerContent": answer})

    def fail(
        self, loop_name: str, code: str = "Expired", reason: str = "no worker took the task in time"
    ) -> dict:
        return self._post(f"{loop_name}/fail", {"FailureCode": code, "FailureReason": reason})

    def loops(self, status: str = "all") -> list[dict]:
        """The loops a worker sees: name, InputContent (parsed), answers received; `pending` or `all`."""
        response = requests.get(self.url, params={"status": status}, timeout=10)
        response.raise_for_status()
        return response.json()["loops"]

    def pending(self) -> list[str]:
        return [loop["HumanLoopName"] for loop in self.loops("pending")]

    def _post(self, path: str, body: dict) -> dict:
        response = requests.post(f"{self.url}/{path}", json=body, timeout=10)
        assert response.ok, response.text
        return response.json()


@pytest.fixture
def reviewer(aws) -> Reviewer:
    return Reviewer(aws.emulator_url)


@pytest.fixture
def a2i_calls(on_botocore_event) -> Counter:
    """A2I runtime API calls by operation name (a call retried by botocore counts once)."""
    calls: Counter = Counter()

    def count(model, **_):
        calls[model.name] += 1

    on_botocore_event("before-call.sagemaker-a2i-runtime", count)
    return calls


@pytest.fixture
def dag_from_source(airflow_db, tmp_path, monkeypatch) -> Callable[[str, str], object]:
    """Load a DAG from source written to a DAG folder of the test's own, where dag.test() finds it.

    dag.test() runs only DAGs it can find in a DAG bundle; pointing the bundle at this folder also
    spares each run a parse of the project's DAGs.
    """
    folder = tmp_path / "dags"
    folder.mkdir()
    bundle = {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle"}
    monkeypatch.setenv(
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST",
        json.dumps([{**bundle, "kwargs": {"path": str(folder)}}]),
    )

    def load(name: str, source: str):
        path = folder / f"{name}.py"
        path.write_text(source)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.dag

    return load
