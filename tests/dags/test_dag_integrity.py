"""Every DAG file imports cleanly with no AWS credentials and no network, and carries what
operators rely on: tags, an owner, docs and retries."""

import socket
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"


class NetworkAccessError(RuntimeError):
    """A DAG file tried to open a connection while it was being parsed."""


@pytest.fixture(scope="module")
def dag_bag():
    original_connect = socket.socket.connect

    def refuse(sock, address):
        raise NetworkAccessError(f"DAG parsing tried to connect to {address!r}")

    socket.socket.connect = refuse
    try:
        from airflow.dag_processing.dagbag import DagBag

        return DagBag(dag_folder=str(DAGS_DIR))
    finally:
        socket.socket.connect = original_connect


def test_no_import_errors(dag_bag):
    assert dag_bag.import_errors == {}, "\n".join(
        f"{path}: {error}" for path, error in dag_bag.import_errors.items()
    )


def test_every_dag_file_defines_a_dag(dag_bag):
    files_with_dags = {Path(dag.fileloc).name for dag in dag_bag.dags.values()}
    dag_files = {path.name for path in DAGS_DIR.glob("*.py") if not path.name.startswith("_")}
    assert dag_files <= files_with_dags


def test_every_dag_is_described_owned_and_retried(dag_bag):
    problems = []
    for dag_id, dag in sorted(dag_bag.dags.items()):
        if not dag.tags:
            problems.append(f"{dag_id} has no tags")
        if not (dag.doc_md or "").strip():
            problems.append(f"{dag_id} has no doc_md")
        for task in dag.tasks:
            if not task.owner or task.owner == "airflow":
                problems.append(f"{dag_id}.{task.task_id} has no owner of its own")
            if task.retries < 1:
                problems.append(f"{dag_id}.{task.task_id} has no retries")
    assert problems == []
