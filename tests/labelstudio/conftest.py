"""A real Label Studio for the session, Airflow connections that point at it, and the world of the
end-to-end DAG runs (the local stand-in for AWS, the sample images, a project per test).

The first start migrates a fresh data dir and makes the admin's personal access token; the
server every test talks to is a warm restart on that dir, so the tests also show that the data
dir alone carries the admin, both of its tokens and the key that signs JWTs.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from labelstudio_helpers import BOX_LABEL_CONFIG, MODEL_VERSION
from labelstudio_world import LabelStudioWorld, returned, seed_images, setup_conf, states
from moto.server import ThreadedMotoServer

from local_labelstudio.server import LOOPBACK, LabelStudioProcess, start_label_studio

PAT_CONN_ID = "label_studio_pat"


# How long each Label Studio start took, shown at the end of the run.
STARTUP_SECONDS: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter) -> None:
    if STARTUP_SECONDS:
        terminalreporter.write_sep("-", "Label Studio start-up (until GET /health answers)")
        for what, seconds in STARTUP_SECONDS.items():
            terminalreporter.write_line(f"{what}: {seconds:.1f}s")


@dataclass(frozen=True)
class PreparedDataDir:
    path: Path
    personal_access_token: str
    revoked_personal_access_token: str


@pytest.fixture(scope="session")
def label_studio_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("label-studio-log") / "label-studio.log"


@pytest.fixture(scope="session")
def prepared_data_dir(tmp_path_factory, label_studio_log) -> PreparedDataDir:
    """A data dir after a first start (migrations, admin, legacy token) and two personal access
    tokens of the admin, the first revoked by the making of the second."""
    data_dir = tmp_path_factory.mktemp("label-studio-data")
    with start_label_studio(data_dir, log_path=label_studio_log) as first:
        revoked = first.new_personal_access_token()
        token = first.new_personal_access_token()
    STARTUP_SECONDS["first start, fresh data dir"] = first.startup_seconds
    return PreparedDataDir(data_dir, token, revoked)


@pytest.fixture(scope="session")
def label_studio(prepared_data_dir, label_studio_log) -> Iterator[LabelStudioProcess]:
    """Label Studio restarted on the prepared data dir, for the session; stopped by its pid at the end."""
    with start_label_studio(prepared_data_dir.path, log_path=label_studio_log) as studio:
        STARTUP_SECONDS["warm restart on that data dir"] = studio.startup_seconds
        yield studio


@pytest.fixture
def copy_of_data_dir(prepared_data_dir, tmp_path) -> Path:
    """A copy of the prepared data dir (and of what the tests so far added to it), for a second server."""
    copy = tmp_path / "label-studio-data"
    shutil.copytree(prepared_data_dir.path, copy)
    return copy


@pytest.fixture
def connect(label_studio, monkeypatch) -> Callable[..., None]:
    """Define an Airflow connection (by environment variable) to the session's Label Studio."""

    def define(conn_id: str = "label_studio_default", **fields: str) -> None:
        connection = {**label_studio.connection, **fields}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))

    return define


@pytest.fixture
def hook(connect):
    """A hook on `label_studio_default`, which holds the legacy token."""
    from hitl_detection.hooks.label_studio import LabelStudioHook

    connect()
    return LabelStudioHook()


@pytest.fixture
def pat_hook(connect, prepared_data_dir):
    """A hook whose connection holds the admin's personal access token."""
    from hitl_detection.hooks.label_studio import LabelStudioHook

    connect(PAT_CONN_ID, password=prepared_data_dir.personal_access_token)
    return LabelStudioHook(PAT_CONN_ID)


@pytest.fixture
def project(hook, request) -> dict:
    """A fresh bounding-box project that shows the model's predictions, named after the test."""
    return hook.create_project(
        title=request.node.name[:50],  # Label Studio's limit
        label_config=BOX_LABEL_CONFIG,
        model_version=MODEL_VERSION,
        show_collab_predictions=True,
        maximum_annotations=1,
    )


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
    server.start()
    yield f"http://{LOOPBACK}:{server.get_host_and_port()[1]}"
    server.stop()


# End-to-end runs of the DAGs


@pytest.fixture
def dag_bag(airflow_db, project_root):
    """Freshly parsed DAGs for each test: `dag.test(run_conf=...)` leaves the conf in the DAG's params."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(project_root / "dags"))
    assert bag.import_errors == {}
    return bag


@pytest.fixture
def make_world(aws, label_studio, connect, dag_bag, request) -> Callable[..., LabelStudioWorld]:
    """The sample images in a clean stand-in, and a function that runs review_workflow_setup for a
    Label Studio project of this test (`reviewers` annotations per task) and returns the world."""
    connect()
    seed_images(aws)

    def make(reviewers: int = 1) -> LabelStudioWorld:
        title = f"{request.node.name[:41]}-{uuid.uuid4().hex[:8]}"
        run = dag_bag.get_dag("review_workflow_setup").test(run_conf=setup_conf(title, reviewers))
        assert run.state == "success", states(run)
        return LabelStudioWorld(aws, label_studio, returned(run, "ensure_label_studio_project"))

    return make


@pytest.fixture
def world(make_world) -> LabelStudioWorld:
    return make_world()
