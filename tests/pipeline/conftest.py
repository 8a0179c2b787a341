"""Fixtures for end-to-end runs of detect_and_review."""

import pytest
from pipeline_world import World, dag_bag, detect_and_review, make_world

__all__ = ["dag_bag", "detect_and_review"]  # fixtures shared with tests/faults


@pytest.fixture
def world(aws) -> World:
    return make_world(aws)
