"""What a whole detect_and_review run leaves besides its results, in real DAG runs (dag.test) on
the stand-in: the training sets and the bill in summary.json, links for the UI in XCom; and
export_training_set merging past runs into one set."""

from __future__ import annotations

import json
from datetime import datetime

from pipeline_world import BUCKET, LABELS

from hitl_detection.domain.s3_uri import parse_s3_uri
from hitl_detection.operators.links import ReviewsLink, RunFolderLink, SageMakerConsoleLink


def task_instance(run, task_id: str):
    (instance,) = [ti for ti in run.get_task_instances() if ti.task_id == task_id]
    return instance


def test_a_run_writes_its_training_sets_its_bill_and_its_links(world, detect_and_review, dag_bag):
    with world.reviewers():
        run = detect_and_review.test(run_conf=world.conf())
    assert run.state == "success"

    publish = task_instance(run, "publish_results")
    bucket, folder = parse_s3_uri(publish.xcom_pull(task_ids="publish_results"))
    s3 = world.client("s3")
    summary = json.loads(s3.get_object(Bucket=bucket, Key=f"{folder}summary.json")["Body"].read())
    exports = summary["training_sets"]
    assert exports["images"] == 12  # every sample image was accepted or reviewed
    assert exports["classes"] == LABELS
    manifest = s3.get_object(Bucket=bucket, Key=f"{folder}exports/manifest.jsonl")["Body"].read().splitlines()
    assert len(manifest) == 12
    labels = s3.list_objects_v2(Bucket=bucket, Prefix=f"{folder}exports/yolo/labels/")["KeyCount"]
    assert labels == 12

    bill = summary["bill"]
    deployed = task_instance(run, "deploy_endpoint").xcom_pull(task_ids="deploy_endpoint")
    deleted = task_instance(run, "delete_endpoint").xcom_pull(task_ids="delete_endpoint")
    assert bill["inference"]["billed_from"] == deployed["billed_from"]
    assert bill["inference"]["billed_until"] == deleted["billed_until"]
    seconds = datetime.fromisoformat(deleted["billed_until"]) - datetime.fromisoformat(
        deployed["billed_from"]
    )
    assert bill["inference"]["seconds"] == seconds.total_seconds() > 0
    assert bill["review"]["objects"] == summary["by_status"]["reviewed"] == 7
    assert bill["review"]["cost"] == 7 * 0.08
    assert bill["total"] == round(bill["inference"]["cost"] + bill["review"]["cost"], 6)

    links = {
        task_id: task_instance(run, task_id).xcom_pull(task_ids=task_id, key=link.xcom_key)
        for task_id, link in (
            ("deploy_endpoint", SageMakerConsoleLink()),
            ("wait_for_reviews", ReviewsLink()),
            ("publish_results", RunFolderLink()),
        )
    }
    assert links == {
        "deploy_endpoint": f"{world.stack.moto_url}/moto-api/",
        "wait_for_reviews": f"{world.stack.emulator_url}/reviewer/loops?status=all",
        "publish_results": f"{world.stack.moto_url}/{bucket}?prefix={folder.replace('/', '%2F')}",
    }

    export = dag_bag.get_dag("export_training_set").test(
        run_conf={"results_s3_uris": [f"s3://{BUCKET}/results/"], "output_s3_uri": f"s3://{BUCKET}/training/"}
    )
    assert export.state == "success"
    merged = task_instance(export, "export_training_set").xcom_pull(task_ids="export_training_set")
    out_bucket, out_folder = parse_s3_uri(merged)
    coco = json.loads(s3.get_object(Bucket=out_bucket, Key=f"{out_folder}coco.json")["Body"].read())
    assert len(coco["images"]) == 12
    assert [category["name"] for category in coco["categories"]] == LABELS
