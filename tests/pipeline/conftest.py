"""Fixtures for end-to-end runs of detect_and_review."""

from pathlib import Path

import pytest
from pipeline_world import World, make_world

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dag_bag(airflow_db):
    """Freshly parsed DAGs for each test: `dag.test(run_conf=...)` leaves the conf in the DAG's params."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag


@pytest.fixture
def detect_and_review(dag_bag):
    return dag_bag.get_dag("detect_and_review")


@pytest.fixture
def world(aws) -> World:
    return make_world(aws)
