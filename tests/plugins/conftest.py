"""Fixtures of the plugin tests: an Active flow definition on the stand-in, the run's bucket, the
reviewer API, botocore call counters, and DAGs loaded from source for real DAG runs."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from collections.abc import Callable

import pytest
from support import (
    A2I_OUTPUT_BUCKET,
    BUCKET,
    FLOW_DEFINITION_ARN,
    FLOW_DEFINITION_NAME,
    INSTALLATION_ID,
    TEMPLATE,
    Reviewer,
)

from local_aws.workflow import create_active_flow_definition


@pytest.fixture(autouse=True)
def installation_id(monkeypatch) -> str:
    """This Airflow's installation id, as an environment Variable: tasks called outside Airflow
    cannot create it, and every plan of a test then has the key support.make_plan gives it."""
    monkeypatch.setenv("AIRFLOW_VAR_HITL_DETECTION_INSTALLATION_ID", INSTALLATION_ID)
    monkeypatch.delenv("AIRFLOW__HITL_DETECTION__DEPLOYMENT_ID", raising=False)
    return INSTALLATION_ID


@pytest.fixture
def make_flow_definition(aws) -> Callable[..., str]:
    """Create an Active flow definition over the project's worker template; returns its ARN."""
    sagemaker = aws.client("sagemaker")
    aws.client("s3").create_bucket(Bucket=A2I_OUTPUT_BUCKET)
    template = TEMPLATE.read_text()

    def make(name: str = FLOW_DEFINITION_NAME, task_count: int = 1) -> str:
        return create_active_flow_definition(
            sagemaker,
            name=name,
            template=template,
            s3_output_path=f"s3://{A2I_OUTPUT_BUCKET}/reviews",
            task_count=task_count,
        )

    return make


@pytest.fixture
def flow_definition(make_flow_definition) -> str:
    """The flow definition the default plan (support.make_plan) names."""
    arn = make_flow_definition()
    assert arn == FLOW_DEFINITION_ARN
    return arn


@pytest.fixture
def bucket(aws) -> str:
    """The run's bucket: its images under images/, its output folder under results/."""
    aws.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture
def reviewer(aws) -> Reviewer:
    return Reviewer(aws.emulator_url)


@pytest.fixture
def count_calls(on_botocore_event) -> Callable[[str], Counter]:
    """`count_calls(service)`: that service's API calls from now on, by operation name.

    A call that botocore retries counts once.
    """

    def count(service: str) -> Counter:
        calls: Counter = Counter()
        on_botocore_event(f"before-call.{service}", lambda model, **_: calls.update([model.name]))
        return calls

    return count


@pytest.fixture
def a2i_calls(count_calls) -> Counter:
    """A2I runtime API calls by operation name."""
    return count_calls("sagemaker-a2i-runtime")


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
