"""PublishResultsOperator.execute against the stand-in: every shard's records, in shard order, in
one results.jsonl; the summary with the run's config as its params; the asset event naming the
results; nothing published while a shard's records are missing."""

from __future__ import annotations

import json

import pytest
from airflow.sdk.exceptions import AirflowException
from support import (
    ACCEPTED,
    BUCKET,
    CAR,
    IMAGE_SIZE,
    RUN_ID,
    TO_REVIEW,
    image_row,
    make_plan,
    stage_files,
    task_context,
    write_shards,
)

from hitl_detection.dag_builder.pipeline import RESULTS_ASSET
from hitl_detection.domain.boxes import Box
from hitl_detection.domain.records import accepted_record, error_record, review_failed_record, reviewed_record
from hitl_detection.domain.run_config import RunConfig
from hitl_detection.operators.publish import PublishResultsOperator

pytestmark = pytest.mark.stack


def uri(name: str) -> str:
    return f"s3://{BUCKET}/images/{name}"


REVIEW = {"backend": "a2i", "task": "loop-b"}
RECORDS = [
    [
        accepted_record(uri("a.jpg"), ACCEPTED, IMAGE_SIZE),
        reviewed_record(
            uri("b.jpg"), TO_REVIEW, [CAR, Box("person", 99, 50, 21, 60, source="human")], REVIEW, IMAGE_SIZE
        ),
    ],
    [error_record(uri("c.jpg"), "ImageError: not a JPEG")],
    [review_failed_record(uri("d.jpg"), TO_REVIEW, REVIEW, "human loop loop-d Stopped", IMAGE_SIZE)],
]


def staged(plan, records: list[list[dict]], image_shards: int | None = None) -> None:
    """The shards collect_reviews would have written, and the images shards they came from."""
    files = stage_files(plan)
    for shard, documents in enumerate(records):
        if documents is not None:
            files.write("records", shard, documents)
    count = len(records) if image_shards is None else image_shards
    write_shards(plan, "images", [[image_row(f"{shard}.jpg")] for shard in range(count)])


def publish(plan, context: dict | None = None) -> str:
    operator = PublishResultsOperator(task_id="publish_results", plan=plan.to_xcom(), outlets=[RESULTS_ASSET])
    return operator.execute(context or task_context())


def read_json(s3, key: str):
    return json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_results_hold_every_shards_records_in_shard_order(aws, bucket):
    plan = make_plan()
    staged(plan, RECORDS)

    assert publish(plan) == plan.layout.uri

    body = aws.client("s3").get_object(Bucket=BUCKET, Key=plan.layout.results_key)["Body"].read().decode()
    assert [json.loads(line) for line in body.splitlines()] == [
        record for shard in RECORDS for record in shard
    ]


def test_the_summary_counts_the_records_and_holds_the_config_as_params(aws, bucket):
    plan = make_plan(threshold=0.8, max_images=50)
    staged(plan, RECORDS)

    publish(plan)

    summary = read_json(aws.client("s3"), plan.layout.summary_key)
    assert summary["run_id"] == RUN_ID
    assert summary["results_s3_uri"] == f"s3://{BUCKET}/{plan.layout.results_key}"
    assert summary["config"] == plan.config.to_params()
    assert RunConfig.from_params(summary["config"]) == plan.config
    assert summary["images"] == 4
    assert summary["by_status"] == {"accepted": 1, "reviewed": 1, "review_failed": 1, "error": 1}
    assert summary["boxes_by_source"] == {"model": 3, "human": 1}
    assert summary["errors"] == [
        {"image_s3_uri": uri("c.jpg"), "error": "ImageError: not a JPEG"},
        {"image_s3_uri": uri("d.jpg"), "error": "human loop loop-d Stopped"},
    ]


def test_the_asset_event_names_the_results_file(aws, bucket):
    plan = make_plan()
    staged(plan, RECORDS)
    context = task_context()

    publish(plan, context)

    assert context["outlet_events"][RESULTS_ASSET].extra == {
        "results_s3_uri": f"s3://{BUCKET}/{plan.layout.results_key}"
    }


def test_publishing_again_gives_the_same_files(aws, bucket):
    plan = make_plan()
    staged(plan, RECORDS)
    s3 = aws.client("s3")
    publish(plan)
    first = [
        s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        for key in (plan.layout.results_key, plan.layout.summary_key)
    ]

    publish(plan)

    assert [
        s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        for key in (plan.layout.results_key, plan.layout.summary_key)
    ] == first


def test_a_missing_records_shard_refuses_to_publish_naming_the_shard(aws, bucket):
    plan = make_plan()
    staged(plan, [RECORDS[0], None, RECORDS[2]], image_shards=3)

    with pytest.raises(AirflowException) as raised:
        publish(plan)

    assert str(raised.value) == (
        f"records of image shards [1] are missing under {plan.layout.uri}work/records/: "
        "clear collect_reviews to write them, then publish again"
    )
    listed = aws.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=plan.layout.folder)["Contents"]
    assert plan.layout.results_key not in [item["Key"] for item in listed]
