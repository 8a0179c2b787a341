"""Fixtures of the fault matrix: the stand-in with time scaled down, freshly parsed DAGs, and
scripted reviewers."""

from __future__ import annotations

import pytest
from fault_world import scaled_connection
from pipeline_world import World, dag_bag, detect_and_review, make_world

__all__ = ["dag_bag", "detect_and_review"]  # fixtures of pipeline_world


@pytest.fixture
def world(aws, monkeypatch) -> World:
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", scaled_connection(aws.conn_uri_env))
    return make_world(aws)
