"""The world end-to-end runs on Label Studio happen in: the sample images in the stand-in's S3, a
project made by review_workflow_setup in the session's real Label Studio, and scripted reviewers
answering through its API in the background."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from hitl_detection.domain.s3_uri import parse_s3_uri
from local_labelstudio.reviewer import ScriptedLabelStudioReviewer

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "include" / "sample_images"
TRUTH = json.loads((SAMPLES / "ground_truth.json").read_text())
BUCKET = "hitl-ls-test"
LABELS = ["car", "person", "bicycle", "bus"]
ROLE_ARN = "arn:aws:iam::123456789012:role/hitl-test-sagemaker"
MODEL_PACKAGE_ARN = "arn:aws:sagemaker:us-east-1:865070037744:model-package/gluoncv-ssd-resnet50"
REVIEWED = [f"street-{n:02d}.{'png' if n == 6 else 'jpg'}" for n in (4, 5, 6, 7, 8, 9, 12)]

# The DAG files read these when they are parsed: poll every second, retry failed tasks at once.
os.environ["AIRFLOW__HITL_DETECTION__REVIEW_POLL_SECONDS"] = "1"
os.environ["AIRFLOW__HITL_DETECTION__RETRY_DELAY_SECONDS"] = "0"
# Label Studio lists a task as soon as it is imported: one missing from a sweep is looked up at once.
os.environ["AIRFLOW__HITL_DETECTION__REVIEW_MISSING_GRACE_SECONDS"] = "0"


@dataclass
class LabelStudioWorld:
    stack: Any
    studio: Any  # local_labelstudio.server.LabelStudioProcess
    project_id: int

    def client(self, service: str):
        return self.stack.client(service)

    def conf(self, **overrides) -> dict:
        return {
            "input_s3_uri": f"s3://{BUCKET}/images/",
            "output_s3_uri": f"s3://{BUCKET}/results/",
            "labels": LABELS,
            "model_package_arn": MODEL_PACKAGE_ARN,
            "execution_role_arn": ROLE_ARN,
            "review_backend": "labelstudio",
            "label_studio_project_id": self.project_id,
            **overrides,
        }

    def tasks(self) -> list[dict]:
        """The project's tasks with their annotations and predictions, as the admin sees them."""
        headers = {"Authorization": f"Token {self.studio.token}"}
        with httpx.Client(base_url=self.studio.url, headers=headers, timeout=30) as client:
            answer = client.get(
                "/api/tasks",
                params={
                    "project": self.project_id,
                    "fields": "all",
                    "page_size": 100,
                    "resolve_uri": "false",
                },
            )
            answer.raise_for_status()
            return answer.json()["tasks"]

    @contextmanager
    def reviewers(
        self, workers: int = 1, skip: Collection[str] = ()
    ) -> Iterator[ScriptedLabelStudioReviewer]:
        """Scripted reviewers answering the project's pending tasks until the block ends."""
        reviewer = ScriptedLabelStudioReviewer(
            self.studio.url, self.studio.token, workers=workers, project_id=self.project_id, skip=skip
        )
        stop = threading.Event()
        thread = threading.Thread(target=reviewer.run, args=(stop, 0.3), daemon=True)
        thread.start()
        try:
            yield reviewer
        finally:
            stop.set()
            thread.join(timeout=30)


def seed_images(stack) -> None:
    s3 = stack.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for path in sorted(SAMPLES.glob("street-*")):
        s3.upload_file(str(path), BUCKET, f"images/{path.name}")


def setup_conf(title: str, reviewers: int = 1, **overrides) -> dict:
    """review_workflow_setup's conf for a Label Studio project over the world's images."""
    return {
        "review_backend": "labelstudio",
        "label_studio_project_title": title,
        "images_s3_uri": f"s3://{BUCKET}/images/",
        "task_count": reviewers,
        "labels": LABELS,
        **overrides,
    }


def returned(run, task_id: str):
    (instance,) = [ti for ti in run.get_task_instances() if ti.task_id == task_id]
    return instance.xcom_pull(task_ids=task_id)


def published(stack, run) -> tuple[dict, list[dict]]:
    """The summary and the records the run published, read back from S3."""
    bucket, folder = parse_s3_uri(returned(run, "publish_results"))
    s3 = stack.client("s3")
    summary = json.loads(s3.get_object(Bucket=bucket, Key=f"{folder}summary.json")["Body"].read())
    body = s3.get_object(Bucket=bucket, Key=f"{folder}results.jsonl")["Body"].read().decode()
    return summary, [json.loads(line) for line in body.splitlines()]


def states(run) -> dict[str, str]:
    found: dict[str, str] = {}
    for ti in run.get_task_instances():
        found.setdefault(ti.task_id, ti.state)
    return found


def file_name(record: dict) -> str:
    return record["image_s3_uri"].rsplit("/", 1)[-1]
