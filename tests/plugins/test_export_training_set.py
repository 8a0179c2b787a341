"""ExportTrainingSetOperator against the stand-in: two runs published by publish_results, merged
into one training set where the newest usable answer per image wins; runs named by their results
file, their folder or a prefix holding them; a clear refusal of what cannot be exported."""

from __future__ import annotations

import json
import time

import pytest
from airflow.sdk.exceptions import AirflowFailException
from support import (
    BUCKET,
    DAG_ID,
    IMAGE_SIZE,
    INSTALLATION_ID,
    TO_REVIEW,
    make_plan,
    stage_files,
    task_context,
    write_shards,
)
from support import image_row as row

from hitl_detection.assets import COCO_ASSET, TRAINING_SET_ASSETS
from hitl_detection.dag_builder.defaults import DEFAULT_PRICES_FILE
from hitl_detection.domain.boxes import Box
from hitl_detection.domain.gating import GatePolicy, gate_detections
from hitl_detection.domain.naming import run_folder, run_key
from hitl_detection.domain.records import accepted_record, error_record, review_failed_record, reviewed_record
from hitl_detection.operators.export_training_set import ExportTrainingSetOperator
from hitl_detection.operators.publish import PublishResultsOperator

pytestmark = pytest.mark.stack

EXPORT_RUN_ID = "manual__2026-12-01T00:00:00+00:00"
REVIEW = {"backend": "a2i", "task": "loop"}
BIKE = Box("bicycle", 5, 5, 50, 50, score=0.95)
PERSON = Box("person", 100, 50, 20, 60, source="human")


def uri(name: str) -> str:
    return f"s3://{BUCKET}/images/{name}"


def publish_run(run_id: str, labels: list[str], records: list[dict]):
    """A run that published these records, as publish_results does."""
    plan = make_plan(run_id=run_id, labels=labels)
    stage_files(plan).write("records", 0, records)
    write_shards(plan, "images", [[row("0.jpg")]])
    PublishResultsOperator(
        task_id="publish_results", plan=plan.to_xcom(), prices_file=str(DEFAULT_PRICES_FILE)
    ).execute(task_context())
    return plan


@pytest.fixture
def two_runs(aws, bucket):
    """An older run on car and person, then a newer one on person and bicycle."""
    older = publish_run(
        "manual__2026-11-20T00:00:00+00:00",
        ["car", "person"],
        [
            reviewed_record(uri("a.jpg"), TO_REVIEW, [PERSON], REVIEW, IMAGE_SIZE),
            error_record(uri("b.jpg"), "ImageError: truncated"),
            accepted_record(uri("c.jpg"), gate_detections([], GatePolicy(labels=("car",))), IMAGE_SIZE),
            error_record(uri("e.jpg"), "older failure"),
        ],
    )
    time.sleep(1.1)  # S3 dates objects to the second: the newer run must be newer
    newer_policy = GatePolicy(labels=("person", "bicycle"))
    newer = publish_run(
        "manual__2026-11-21T00:00:00+00:00",
        ["person", "bicycle"],
        [
            review_failed_record(uri("a.jpg"), TO_REVIEW, REVIEW, "human loop Expired", IMAGE_SIZE),
            reviewed_record(uri("b.jpg"), TO_REVIEW, [PERSON], REVIEW, IMAGE_SIZE),
            accepted_record(uri("d.jpg"), gate_detections([BIKE], newer_policy), IMAGE_SIZE),
            error_record(uri("e.jpg"), "newer failure"),
        ],
    )
    return older, newer


def export(context=None, **kwargs) -> str:
    operator = ExportTrainingSetOperator(
        task_id="export_training_set",
        output_s3_uri=f"s3://{BUCKET}/training/",
        outlets=list(TRAINING_SET_ASSETS),
        **kwargs,
    )
    return operator.execute(context or task_context(run_id=EXPORT_RUN_ID))


def read_lines(s3, key: str) -> list[dict]:
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_the_newest_usable_answer_per_image_wins_across_runs(aws, two_runs):
    older, newer = two_runs
    context = task_context(run_id=EXPORT_RUN_ID)

    folder = export(context, results_s3_uris=[f"s3://{BUCKET}/results/"])

    prefix = f"training/{run_folder(run_key(INSTALLATION_ID, DAG_ID, EXPORT_RUN_ID))}/"
    assert folder == f"s3://{BUCKET}/{prefix}"
    s3 = aws.client("s3")
    manifest = read_lines(s3, f"{prefix}manifest.jsonl")
    assert [(line["source-ref"], line["bounding-box-metadata"]["job-name"]) for line in manifest] == [
        (uri("b.jpg"), newer.run_id),
        (uri("d.jpg"), newer.run_id),
        (uri("a.jpg"), older.run_id),  # the newer run's review of a failed
        (uri("c.jpg"), older.run_id),
    ]
    # Class ids: the older run's labels first.
    assert manifest[0]["bounding-box-metadata"]["class-map"] == {"0": "car", "1": "person", "2": "bicycle"}
    assert [a["class_id"] for a in manifest[1]["bounding-box"]["annotations"]] == [2]
    assert (
        s3.get_object(Bucket=BUCKET, Key=f"{prefix}yolo/classes.txt")["Body"].read()
        == b"car\nperson\nbicycle\n"
    )
    assert read_lines(s3, f"{prefix}excluded.jsonl") == [
        {"image_s3_uri": uri("e.jpg"), "status": "error", "reason": "newer failure", "run_id": newer.run_id}
    ]
    coco = json.loads(s3.get_object(Bucket=BUCKET, Key=f"{prefix}coco.json")["Body"].read())
    assert [image["s3_uri"] for image in coco["images"]] == [
        uri(n) for n in ("b.jpg", "d.jpg", "a.jpg", "c.jpg")
    ]
    assert context["outlet_events"][COCO_ASSET].extra == {
        "coco_s3_uri": f"s3://{BUCKET}/{prefix}coco.json",
        "images": 4,
        "boxes": 3,
        "excluded": 1,
        "classes": ["car", "person", "bicycle"],
    }


def test_runs_named_by_their_results_file_or_folder_give_the_same_set(aws, two_runs):
    older, newer = two_runs
    s3 = aws.client("s3")
    prefix = f"training/{run_folder(run_key(INSTALLATION_ID, DAG_ID, EXPORT_RUN_ID))}/"

    export(results_s3_uris=[older.layout.uri, f"s3://{BUCKET}/{newer.layout.results_key}"])

    assert len(read_lines(s3, f"{prefix}manifest.jsonl")) == 4


@pytest.mark.parametrize(
    ("uris", "message"),
    [
        ([f"s3://{BUCKET}/nothing-here/"], f"no results.jsonl under s3://{BUCKET}/nothing-here/"),
        ([f"s3://{BUCKET}/results/a.json"], "names neither a results.jsonl nor a prefix ending with '/'"),
        (
            [f"s3://{BUCKET}/results/gone/results.jsonl"],
            f"s3://{BUCKET}/results/gone/results.jsonl does not exist",
        ),
        (["not-a-uri"], "'not-a-uri' is not an S3 URI"),
    ],
)
def test_what_cannot_be_exported_is_refused_naming_it(aws, bucket, uris, message):
    with pytest.raises(AirflowFailException) as raised:
        export(results_s3_uris=uris)

    assert message in str(raised.value)


def test_a_run_without_its_summary_is_refused_naming_it(aws, bucket):
    s3 = aws.client("s3")
    s3.put_object(Bucket=BUCKET, Key="results/half/results.jsonl", Body=b"")

    with pytest.raises(AirflowFailException) as raised:
        export(results_s3_uris=[f"s3://{BUCKET}/results/"])

    assert str(raised.value) == (
        f"s3://{BUCKET}/results/half/summary.json is missing: the labels of the run beside it are unknown"
    )
