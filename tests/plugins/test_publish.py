"""PublishResultsOperator.execute against the stand-in: every shard's records, in shard order, in
one results.jsonl; the training sets beside it (accepted and reviewed images only, read back by
pycocotools, as YOLO lines and as a Ground Truth manifest); the summary with the run's config and
its bill; the asset events naming each file; the run folder's link; nothing published while a
shard's records are missing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.exceptions import AirflowException
from pycocotools.coco import COCO
from support import (
    ACCEPTED,
    BUCKET,
    CAR,
    IMAGE_SIZE,
    RUN_ID,
    TO_REVIEW,
    TaskXComs,
    image_row,
    make_plan,
    stage_files,
    task_context,
    write_shards,
)

from hitl_detection.assets import COCO_ASSET, MANIFEST_ASSET, TRAINING_SET_ASSETS, YOLO_ASSET
from hitl_detection.dag_builder.defaults import DEFAULT_PRICES_FILE, prices_file
from hitl_detection.dag_builder.pipeline import BILLING_TASK_IDS, RESULTS_ASSET
from hitl_detection.domain.boxes import Box
from hitl_detection.domain.records import accepted_record, error_record, review_failed_record, reviewed_record
from hitl_detection.domain.run_config import RunConfig
from hitl_detection.operators.links import RunFolderLink
from hitl_detection.operators.publish import PublishResultsOperator

pytestmark = pytest.mark.stack


def uri(name: str) -> str:
    return f"s3://{BUCKET}/images/{name}"


REVIEW = {"backend": "a2i", "task": "loop-b"}
PERSON_DRAWN = Box("person", 99, 50, 21, 60, source="human")
RECORDS = [
    [
        accepted_record(uri("a.jpg"), ACCEPTED, IMAGE_SIZE),
        reviewed_record(uri("b.jpg"), TO_REVIEW, [CAR, PERSON_DRAWN], REVIEW, IMAGE_SIZE),
    ],
    [error_record(uri("c.jpg"), "ImageError: not a JPEG")],
    [review_failed_record(uri("d.jpg"), TO_REVIEW, REVIEW, "human loop loop-d Stopped", IMAGE_SIZE)],
]
DEPLOYED_AT = datetime(2026, 11, 25, 10, 1, tzinfo=UTC)


def staged(plan, records: list[list[dict]], image_shards: int | None = None) -> None:
    """The shards collect_reviews would have written, and the images shards they came from."""
    files = stage_files(plan)
    for shard, documents in enumerate(records):
        if documents is not None:
            files.write("records", shard, documents)
    count = len(records) if image_shards is None else image_shards
    write_shards(plan, "images", [[image_row(f"{shard}.jpg")] for shard in range(count)])


def publish(plan, context: dict | None = None, prices_file: str = str(DEFAULT_PRICES_FILE)) -> str:
    operator = PublishResultsOperator(
        task_id="publish_results",
        plan=plan.to_xcom(),
        prices_file=prices_file,
        billing_task_ids=BILLING_TASK_IDS,
        outlets=[RESULTS_ASSET, *TRAINING_SET_ASSETS],
    )
    return operator.execute(context or task_context())


def read(s3, key: str) -> bytes:
    return s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def read_json(s3, key: str):
    return json.loads(read(s3, key))


def read_lines(s3, key: str) -> list[dict]:
    return [json.loads(line) for line in read(s3, key).decode().splitlines()]


def exports_key(plan, name: str) -> str:
    return f"{plan.layout.folder}exports/{name}"


def test_results_hold_every_shards_records_in_shard_order(aws, bucket):
    plan = make_plan()
    staged(plan, RECORDS)

    assert publish(plan) == plan.layout.uri

    assert read_lines(aws.client("s3"), plan.layout.results_key) == [
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


def test_the_training_sets_hold_the_accepted_and_reviewed_images_and_list_the_others(aws, bucket, tmp_path):
    plan = make_plan()
    staged(plan, RECORDS)
    s3 = aws.client("s3")

    publish(plan)

    coco_file = tmp_path / "coco.json"
    coco_file.write_bytes(read(s3, exports_key(plan, "coco.json")))
    coco = COCO(str(coco_file))
    assert [image["s3_uri"] for image in coco.loadImgs(coco.getImgIds())] == [uri("a.jpg"), uri("b.jpg")]
    assert [category["name"] for category in coco.loadCats(coco.getCatIds())] == ["car", "person"]
    assert [(a["category_id"], a["bbox"]) for a in coco.loadAnns(coco.getAnnIds(imgIds=[2]))] == [
        (1, [10, 20, 30, 40]),
        (2, [99, 50, 21, 60]),
    ]
    assert read(s3, exports_key(plan, "yolo/classes.txt")) == b"car\nperson\n"
    person = read(s3, exports_key(plan, f"yolo/labels/{BUCKET}/images/b.txt")).decode().splitlines()[1]
    assert person == "1 0.171094 0.166667 0.032813 0.125000"  # (99 + 21/2) / 640, (50 + 60/2) / 480, ...
    manifest = read_lines(s3, exports_key(plan, "manifest.jsonl"))
    assert [(line["source-ref"], line["bounding-box-metadata"]["human-annotated"]) for line in manifest] == [
        (uri("a.jpg"), "no"),
        (uri("b.jpg"), "yes"),
    ]
    assert read_lines(s3, exports_key(plan, "excluded.jsonl")) == [
        {
            "image_s3_uri": uri("c.jpg"),
            "status": "error",
            "reason": "ImageError: not a JPEG",
            "run_id": RUN_ID,
        },
        {
            "image_s3_uri": uri("d.jpg"),
            "status": "review_failed",
            "reason": "human loop loop-d Stopped",
            "run_id": RUN_ID,
        },
    ]
    summary = read_json(s3, plan.layout.summary_key)
    assert summary["training_sets"] == {
        "coco_s3_uri": f"s3://{BUCKET}/{exports_key(plan, 'coco.json')}",
        "yolo_s3_uri": f"s3://{BUCKET}/{exports_key(plan, 'yolo/')}",
        "manifest_s3_uri": f"s3://{BUCKET}/{exports_key(plan, 'manifest.jsonl')}",
        "excluded_s3_uri": f"s3://{BUCKET}/{exports_key(plan, 'excluded.jsonl')}",
        "classes": ["car", "person"],
        "images": 2,
        "boxes": 3,
        "excluded": 2,
    }


def test_the_bill_prices_the_endpoints_time_from_deploy_to_delete_and_the_reviewed_objects(aws, bucket):
    plan = make_plan()
    staged(plan, RECORDS)
    deployed = {"endpoint": plan.deployment.endpoint_name, "billed_from": DEPLOYED_AT.isoformat()}
    deleted = {"endpoint": "deleted", "billed_until": (DEPLOYED_AT + timedelta(minutes=15)).isoformat()}
    context = task_context(ti=TaskXComs({"deploy_endpoint": deployed, "delete_endpoint": deleted}))

    publish(plan, context)

    bill = read_json(aws.client("s3"), plan.layout.summary_key)["bill"]
    assert bill["inference"]["seconds"] == 900
    assert bill["inference"]["cost"] == pytest.approx(900 / 3600 * 1 * 0.24)  # ml.m4.xlarge, 1 instance
    assert bill["review"] == {
        "backend": "a2i",
        "objects": 1,
        "price_per_object": 0.08,
        "cost": 0.08,
        "note": None,
    }
    assert bill["total"] == pytest.approx(0.06 + 0.08)
    assert bill["prices"]["date"] == "2026-12-04"


def test_a_run_that_reused_an_endpoint_pays_only_for_its_reviews(aws, bucket):
    plan = make_plan(endpoint_name="team-detector")
    staged(plan, RECORDS)

    publish(plan, task_context(ti=TaskXComs({"delete_endpoint": {}})))

    bill = read_json(aws.client("s3"), plan.layout.summary_key)["bill"]
    assert (bill["inference"]["cost"], bill["total"]) == (0, 0.08)


def test_an_unreadable_price_table_leaves_out_the_bill_but_publishes_everything_else(aws, bucket, tmp_path):
    plan = make_plan()
    staged(plan, RECORDS)
    prices = tmp_path / "prices.json"
    prices.write_text("{not json")

    publish(plan, prices_file=str(prices))

    summary = read_json(aws.client("s3"), plan.layout.summary_key)
    assert summary["bill"]["error"].startswith(f"price table {prices}: Expecting property name")
    assert summary["images"] == 4


def test_the_asset_events_name_the_results_and_each_training_set(aws, bucket):
    plan = make_plan()
    staged(plan, RECORDS)
    context = task_context()

    publish(plan, context)

    events = context["outlet_events"]
    exports = f"s3://{BUCKET}/{plan.layout.folder}exports/"
    counts = {"images": 2, "boxes": 3, "excluded": 2, "classes": ["car", "person"]}
    assert events[RESULTS_ASSET].extra == {"results_s3_uri": f"s3://{BUCKET}/{plan.layout.results_key}"}
    assert events[COCO_ASSET].extra == {"coco_s3_uri": f"{exports}coco.json", **counts}
    assert events[YOLO_ASSET].extra == {"yolo_s3_uri": f"{exports}yolo/", **counts}
    assert events[MANIFEST_ASSET].extra == {
        "manifest_s3_uri": f"{exports}manifest.jsonl",
        "label_attribute": "bounding-box",
        **counts,
    }


def test_the_run_folder_link_opens_the_stand_ins_listing_of_it(aws, bucket):
    plan = make_plan()
    staged(plan, RECORDS)
    context = task_context()

    publish(plan, context)

    url = context["ti"].pushed[RunFolderLink.key]
    assert url == f"{aws.moto_url}/{BUCKET}?prefix={plan.layout.folder.replace('/', '%2F')}"


def test_publishing_again_gives_the_same_results_and_summary(aws, bucket):
    plan = make_plan()
    staged(plan, RECORDS)
    s3 = aws.client("s3")
    publish(plan)
    first = [read(s3, key) for key in (plan.layout.results_key, plan.layout.summary_key)]

    publish(plan)

    assert [read(s3, key) for key in (plan.layout.results_key, plan.layout.summary_key)] == first


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


def test_the_prices_file_setting_replaces_the_projects_price_table(monkeypatch, tmp_path):
    ours = tmp_path / "prices.json"
    monkeypatch.setenv("AIRFLOW__HITL_DETECTION__PRICES_FILE", str(ours))
    assert prices_file() == str(ours)

    monkeypatch.delenv("AIRFLOW__HITL_DETECTION__PRICES_FILE")
    assert prices_file() == str(DEFAULT_PRICES_FILE)
    assert DEFAULT_PRICES_FILE.is_file()
