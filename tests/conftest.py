"""Test-wide environment: a throwaway AIRFLOW_HOME and no real AWS credentials.

This runs before any test module imports Airflow, so Airflow never creates ~/airflow and no test
can reach a real AWS account by accident.
"""

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import botocore.handlers
import pytest
from hypothesis import settings

# CI runs the same examples every time, so a red run can be reproduced and is never luck.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

PROJECT_ROOT = Path(__file__).resolve().parent.parent

_airflow_home = tempfile.mkdtemp(prefix="airflow-home-")
os.environ["AIRFLOW_HOME"] = _airflow_home
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(PROJECT_ROOT / "plugins")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_airflow_home}/airflow.db"
for _name in list(os.environ):
    if _name.startswith(("AWS_", "AIRFLOW_CONN_")):
        del os.environ[_name]
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def pytest_unconfigure(config):
    shutil.rmtree(_airflow_home, ignore_errors=True)


@pytest.fixture(scope="session")
def project_root() -> Path:
    return PROJECT_ROOT


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated metadata database in the throwaway AIRFLOW_HOME, for real DAG runs."""
    from airflow.utils.db import initdb

    initdb()


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """The local AWS stand-in, one process for the session, stopped by its pid at the end.

    Flow definitions turn Active after 0.1 s here (1 s by default), so tests need not wait long.
    """
    from local_aws.stack import start_stack

    log_path = tmp_path_factory.mktemp("local-aws") / "stack.log"
    with start_stack("--flow-activation-seconds", "0.1", log_path=log_path) as running:
        print(f"\nlocal_aws started in {running.startup_seconds:.2f}s (pid {running.pid}, log {log_path})")
        yield running


@pytest.fixture
def aws(stack, monkeypatch):
    """A clean stand-in, and `aws_default` pointing at it, for one test."""
    from local_aws.stack import reset

    reset(stack)
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", stack.conn_uri_env)
    return stack


@pytest.fixture
def on_botocore_event(monkeypatch) -> Callable[[str, Callable], None]:
    """Register a handler on every botocore session created from now on (each hook makes its own)."""
    handlers = list(botocore.handlers.BUILTIN_HANDLERS)
    monkeypatch.setattr(botocore.handlers, "BUILTIN_HANDLERS", handlers)

    def register(event_name: str, handler: Callable) -> None:
        handlers.append((event_name, handler))

    return register
