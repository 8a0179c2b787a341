"""The world end-to-end runs of detect_and_review happen in: sample images in S3, an Active
A2I flow definition on the stand-in, and scripted reviewers answering in the background."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_aws.workflow import create_active_flow_definition

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "include" / "sample_images"
TEMPLATE = ROOT / "include" / "templates" / "a2i_bounding_box.liquid.html"
BUCKET = "hitl-test"
LABELS = ["car", "person", "bicycle", "bus"]
ROLE_ARN = "arn:aws:iam::123456789012:role/hitl-test-sagemaker"
MODEL_PACKAGE_ARN = "arn:aws:sagemaker:us-east-1:865070037744:model-package/gluoncv-ssd-resnet50"

# The DAG files read these when they are parsed: poll the scripted reviewer every second, and
# retry failed tasks at once (what is tested is that they retry, not how long they wait).
os.environ["AIRFLOW__HITL_DETECTION__REVIEW_POLL_SECONDS"] = "1"
os.environ["AIRFLOW__HITL_DETECTION__RETRY_DELAY_SECONDS"] = "0"
# The stand-in's transform jobs over a few images end within a second: look every second.
os.environ["AIRFLOW__HITL_DETECTION__TRANSFORM_POLL_SECONDS"] = "1"
# The stand-in lists a loop as soon as it starts: one missing from a sweep is looked up at once.
os.environ["AIRFLOW__HITL_DETECTION__REVIEW_MISSING_GRACE_SECONDS"] = "0"


@dataclass
class World:
    stack: object
    flow_definition_arn: str

    def client(self, service: str):
        return self.stack.client(service)

    def conf(self, **overrides) -> dict:
        return {
            "input_s3_uri": f"s3://{BUCKET}/images/",
            "output_s3_uri": f"s3://{BUCKET}/results/",
            "labels": LABELS,
            "model_package_arn": MODEL_PACKAGE_ARN,
            "execution_role_arn": ROLE_ARN,
            "flow_definition_arn": self.flow_definition_arn,
            **overrides,
        }

    def loop_names(self) -> list[str]:
        paginator = self.client("sagemaker-a2i-runtime").get_paginator("list_human_loops")
        pages = paginator.paginate(FlowDefinitionArn=self.flow_definition_arn)
        return sorted(loop["HumanLoopName"] for page in pages for loop in page["HumanLoopSummaries"])

    @contextmanager
    def reviewers(self, workers: int = 1) -> Iterator[None]:
        """Scripted reviewers answering every pending loop until the block ends."""
        from local_aws.actors.scripted_reviewer import ScriptedReviewer

        reviewer = ScriptedReviewer(self.stack.emulator_url, self.client("s3"), workers=workers)
        stop = threading.Event()
        thread = threading.Thread(target=reviewer.run, args=(stop, 0.2), daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=10)


def make_world(aws, task_count: int = 1) -> World:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for path in sorted(SAMPLES.glob("street-*")):
        s3.upload_file(str(path), BUCKET, f"images/{path.name}")
    flow = create_active_flow_definition(
        aws.client("sagemaker"),
        name="hitl-test-review",
        template=TEMPLATE.read_text(),
        s3_output_path=f"s3://{BUCKET}/a2i-output/",
        task_count=task_count,
    )
    return World(stack=aws, flow_definition_arn=flow)


@pytest.fixture
def dag_bag(airflow_db):
    """Freshly parsed DAGs for each test: `dag.test(run_conf=...)` leaves the conf in the DAG's
    params, and a test may change a task before it runs the DAG. (A fixture of the conftests that
    import it.)"""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag


@pytest.fixture
def detect_and_review(dag_bag):
    return dag_bag.get_dag("detect_and_review")
