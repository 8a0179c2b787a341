"""What the plugin tests share: one run's plan built the way plan_run builds it, its stage files,
the stand-in's reviewer API, sample images, and a task context for calling `execute` directly.

Fixtures that use these live in conftest.py; test files import the constants and helpers from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import requests

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.gating import GatePolicy, gate_detections
from hitl_detection.domain.naming import human_loop_name
from hitl_detection.domain.run_config import RunConfig
from hitl_detection.domain.run_owner import DeploymentIdentity
from hitl_detection.domain.run_plan import RunPlan
from hitl_detection.domain.stage_rows import ImageRow
from hitl_detection.hooks.stage_files import StageFiles
from local_aws.workflow import MODEL_PACKAGE_ARN, ROLE_ARN, WORKTEAM_ARN

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = PROJECT_ROOT / "include" / "sample_images"
TEMPLATE = PROJECT_ROOT / "include" / "templates" / "a2i_bounding_box.liquid.html"

RUN_ID = "manual__2026-11-25T10:00:00+00:00"
OTHER_RUN_ID = "scheduled__2026-11-25T00:00:00+00:00"
DAG_ID = "detect_and_review"
# This Airflow's installation id (the conftest sets its Variable); with no [hitl_detection]
# deployment_id set, it is the deployment id too.
INSTALLATION_ID = "5f0c2a9e41d7b3c6"
IDENTITY = DeploymentIdentity(INSTALLATION_ID, INSTALLATION_ID)
RUN_KEY = IDENTITY.owner_of(DAG_ID, RUN_ID).run_key
ACCOUNT_ID = "123456789012"  # the stand-in's account
REGION = "us-east-1"  # the session stand-in's region
BUCKET = "hitl-runs"  # the run's images (under images/) and its output folder (under results/)
INPUT_PREFIX = "images/"
A2I_OUTPUT_BUCKET = "a2i-output"
FLOW_DEFINITION_NAME = "review-boxes"
FLOW_DEFINITION_ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:flow-definition/{FLOW_DEFINITION_NAME}"
LABELS = ("car", "person")
# The A2I setup: the role A2I runs as, the private work team, an image a sample task points at.
A2I_ROLE_ARN = ROLE_ARN
A2I_WORKTEAM_ARN = WORKTEAM_ARN
RENDER_SAMPLE_IMAGE = "s3://a2i-input/render-check/sample.jpg"
CONCURRENCY_PER_INSTANCE = 4

CAR = Box("car", 10, 20, 30, 40, 0.97)
PERSON_MAYBE = Box("person", 100, 50, 20, 60, 0.41)
POLICY = GatePolicy(labels=LABELS)  # the plan's policy: threshold 0.9, min_score 0.2
TO_REVIEW = gate_detections([CAR, PERSON_MAYBE], POLICY)  # the car accepted, the person uncertain
ACCEPTED = gate_detections([CAR], POLICY)
IMAGE_SIZE = (640, 480)
# A reviewer's box in the stand-in's reviewer API shape, close to CAR.
CAR_DRAWN = {"label": "car", "left": 11, "top": 20, "width": 30, "height": 40}


# The plan


def run_params(**overrides: Any) -> dict[str, Any]:
    """A run's params as the trigger form sends them: deploy a model, review with A2I."""
    return {
        "input_s3_uri": f"s3://{BUCKET}/{INPUT_PREFIX}",
        "output_s3_uri": f"s3://{BUCKET}/results/",
        "labels": list(LABELS),
        "model_package_arn": MODEL_PACKAGE_ARN,
        "execution_role_arn": ROLE_ARN,
        "flow_definition_arn": FLOW_DEFINITION_ARN,
        **overrides,
    }


def make_plan(
    *,
    run_id: str = RUN_ID,
    concurrency_per_instance: int = CONCURRENCY_PER_INSTANCE,
    endpoint_instances: int | None = None,
    **overrides: Any,
) -> RunPlan:
    """The plan plan_run would return for `run_params(**overrides)`."""
    return RunPlan.build(
        RunConfig.from_params(run_params(**overrides)),
        owner=IDENTITY.owner_of(DAG_ID, run_id),
        concurrency_per_instance=concurrency_per_instance,
        endpoint_instances=endpoint_instances,
    )


class TaskXComs:
    """The task instance's XCom, as far as our operators use it: `xcom_pull` answers from `pulls`
    (task id -> return value), `xcom_push` keeps what was pushed (the UI links) in `pushed`."""

    def __init__(self, pulls: Mapping[str, Any] | None = None) -> None:
        self.pulls = dict(pulls or {})
        self.pushed: dict[str, Any] = {}

    def xcom_pull(self, task_ids: str) -> Any:
        return self.pulls.get(task_ids)

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


def task_context(**overrides: Any) -> dict[str, Any]:
    """The part of a task's context our operators read: params, run id, the run's `run_after` and
    `start_date`, the outlet events publish fills, and the task instance's XCom (`ti`)."""
    from airflow.sdk.execution_time.context import OutletEventAccessors

    return {
        "params": run_params(),
        "run_id": RUN_ID,
        "ti": TaskXComs(),
        "dag_run": SimpleNamespace(dag_id=DAG_ID, run_after=datetime.now(UTC), start_date=datetime.now(UTC)),
        "outlet_events": OutletEventAccessors(),
        **overrides,
    }


# Stage files


def stage_files(plan: RunPlan) -> StageFiles:
    """The run's stage files through the provider's S3Hook on `aws_default`, as the tasks use them."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return StageFiles(S3Hook(aws_conn_id="aws_default"), plan.layout)


def image_row(
    name: str,
    decision=None,
    *,
    error: str | None = None,
    size: tuple[int, int] = IMAGE_SIZE,
) -> ImageRow:
    """A row for `images/<name>`: as listed, or detected with `decision`, or failed with `error`."""
    key = f"{INPUT_PREFIX}{name}"
    row = ImageRow(key=key, s3_uri=f"s3://{BUCKET}/{key}")
    if decision is not None:
        row = row.detected(size, decision)
    return row.failed(error) if error else row


def loop_of(name: str, run_id: str = RUN_ID) -> str:
    """The human loop name of image `images/<name>` in the run."""
    return human_loop_name(IDENTITY.owner_of(DAG_ID, run_id).run_key, f"{INPUT_PREFIX}{name}")


def write_shards(plan: RunPlan, stage: str, shards: Sequence[Iterable[ImageRow]]) -> None:
    """Write `shards[n]` as the stage's shard n, as the stage before would have."""
    files = stage_files(plan)
    for shard, rows in enumerate(shards):
        files.write_rows(stage, shard, rows)


def read_shards(plan: RunPlan, stage: str) -> dict[int, list[ImageRow]]:
    files = stage_files(plan)
    return {shard: list(files.read_rows(stage, shard)) for shard in files.shards(stage)}


def read_documents(plan: RunPlan, stage: str) -> dict[int, list[dict[str, Any]]]:
    """The stage's shards as JSON documents (the records stage holds records, not rows)."""
    files = stage_files(plan)
    return {shard: list(files.read(stage, shard)) for shard in files.shards(stage)}


def deploy_by_hand(sagemaker: Any, plan: RunPlan, now: datetime | None = None) -> None:
    """Create the plan's model, endpoint config and endpoint with a boto3 client, tagged as its
    deploy tasks would tag them at `now` (the stand-in's endpoints are InService at once)."""
    deployment, tags = plan.deployment, plan.resource_tags(now or datetime.now(UTC))
    sagemaker.create_model(**deployment.model_request(tags))
    sagemaker.create_endpoint_config(**deployment.endpoint_config_request(tags))
    sagemaker.create_endpoint(**deployment.endpoint_request(tags))


# Images


def sample(name: str) -> bytes:
    """A bundled sample image (street-01.jpg ... street-12.jpg; 06 and 11 are PNGs)."""
    return (SAMPLES / name).read_bytes()


def put_images(s3: Any, images: Mapping[str, bytes], prefix: str = INPUT_PREFIX) -> None:
    """Upload `{name: bytes}` under the run's input prefix."""
    for name, body in images.items():
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}{name}", Body=body)


# A2I


class Reviewer:
    """The stand-in's reviewer API: what a worker does in the A2I worker portal."""

    def __init__(self, emulator_url: str) -> None:
        self.url = f"{emulator_url}/reviewer/loops"

    def answer(
        self, loop_name: str, boxes: list[dict], worker_id: str = "worker-1", image_size=IMAGE_SIZE
    ) -> dict:
        answer = {
            "annotatedResult": {
                "boundingBoxes": boxes,
                "inputImageProperties": {"width": image_size[0], "height": image_size[1]},
            }
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


def loop_names(a2i: Any, flow_definition_arn: str) -> list[str]:
    """Every loop of the flow definition, sorted, read with a boto3 client of the stand-in."""
    pages = a2i.get_paginator("list_human_loops").paginate(FlowDefinitionArn=flow_definition_arn)
    return sorted(loop["HumanLoopName"] for page in pages for loop in page["HumanLoopSummaries"])


# Answers the stand-in never gives by itself


def rewrite_answers(
    on_botocore_event: Callable[[str, Callable], None], service: str, operation: str, **fields: Any
) -> None:
    """Make every successful `operation` answer to clients created from now on say `fields`.

    The stand-in's endpoints are InService at once and its flow definitions turn Active by
    themselves: this is how a test sees an endpoint Creating or Failed, or a flow definition Failed.
    """

    def rewrite(parsed: dict, **_: Any) -> None:
        if "Error" not in parsed:
            parsed.update(fields)

    on_botocore_event(f"after-call.{service}.{operation}", rewrite)
