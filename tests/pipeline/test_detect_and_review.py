"""detect_and_review end to end: real DAG runs (dag.test) against the local stand-in for AWS.

A few whole runs: the happy path, a reused endpoint, an expired loop, a loop deleted by someone,
detection failing, an endpoint delete failing, a whole run cleared and run again, a retried
start, and params refused. What one task does in each case
is tested against the stand-in in tests/plugins/, one file per operator.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import requests
from airflow.sdk.definitions.param import ParamValidationError
from pipeline_world import LABELS, SAMPLES

from hitl_detection.domain.boxes import Box, match_boxes
from hitl_detection.domain.s3_uri import parse_s3_uri
from local_aws.stack import inject_fault
from local_aws.workflow import create_endpoint

TRUTH = json.loads((SAMPLES / "ground_truth.json").read_text())
DEPLOY_TASKS = ("deploy_model", "deploy_endpoint_config", "deploy_endpoint")


def published(world, run) -> tuple[dict, list[dict]]:
    """The summary and the records the run published, read back from S3."""
    (publish,) = [ti for ti in run.get_task_instances() if ti.task_id == "publish_results"]
    bucket, folder = parse_s3_uri(publish.xcom_pull(task_ids="publish_results"))
    s3 = world.client("s3")
    summary = json.loads(s3.get_object(Bucket=bucket, Key=f"{folder}summary.json")["Body"].read())
    body = s3.get_object(Bucket=bucket, Key=f"{folder}results.jsonl")["Body"].read().decode()
    return summary, [json.loads(line) for line in body.splitlines()]


def states(run) -> dict[str, str]:
    found: dict[str, str] = {}
    for ti in run.get_task_instances():
        found.setdefault(ti.task_id, ti.state)
    return found


def truth_boxes(record: dict, labels=LABELS) -> list[Box]:
    name = record["image_s3_uri"].rsplit("/", 1)[-1]
    return [
        Box(t["label"], t["left"], t["top"], t["width"], t["height"], source="human")
        for t in TRUTH[name]
        if t["label"] in labels
    ]


def assert_matches_truth(record: dict, iou: float) -> None:
    final = [Box.from_record(box) for box in record["boxes"]]
    truth = truth_boxes(record)
    pairs = match_boxes(final, truth, iou)
    assert len(pairs) == len(final) == len(truth), (record["image_s3_uri"], record["boxes"], truth)


def deployed_resources(world) -> tuple[list, list, list]:
    sagemaker = world.client("sagemaker")
    return (
        sagemaker.list_endpoints()["Endpoints"],
        sagemaker.list_endpoint_configs()["EndpointConfigs"],
        sagemaker.list_models()["Models"],
    )


def test_a_reviewed_run_publishes_the_ground_truth_and_deletes_what_it_deployed(world, detect_and_review):
    with world.reviewers():
        run = detect_and_review.test(run_conf=world.conf())

    assert run.state == "success", states(run)
    summary, records = published(world, run)
    assert [r["image_s3_uri"].rsplit("/", 1)[-1] for r in records] == sorted(TRUTH)
    by_status = {r["image_s3_uri"].rsplit("/", 1)[-1]: r["status"] for r in records}
    assert sorted(name for name, status in by_status.items() if status == "reviewed") == [
        f"street-{n:02d}.{'png' if n == 6 else 'jpg'}" for n in (4, 5, 6, 7, 8, 9, 12)
    ]
    for record in records:
        # Reviewers draw the truth; the model's confident boxes are a few pixels off it.
        assert_matches_truth(
            record, iou=0.99 if record["status"] == "reviewed" and not record["boxes"] else 0.7
        )
        if record["status"] == "reviewed":
            assert record["review"]["backend"] == "a2i"
            assert record["review"]["reviewers"] == ["scripted-reviewer-1"]
            assert record["changes"] is not None
    assert summary["images"] == 12
    assert summary["by_status"] == {"accepted": 5, "reviewed": 7, "review_failed": 0, "error": 0}
    street_08 = next(r for r in records if r["image_s3_uri"].endswith("street-08.jpg"))
    # The model missed the tiny person and was unsure of the tiny car: both came from the reviewer.
    assert sorted(box["label"] for box in street_08["changes"]["added"]) == ["car", "person"]
    assert deployed_resources(world) == ([], [], [])
    assert states(run)["check_endpoint_deleted"] == "skipped"
    assert len(world.loop_names()) == 7


def test_a_run_on_a_reused_endpoint_deploys_and_deletes_nothing(world, detect_and_review):
    create_endpoint(world.client("sagemaker"), "team-detector")

    with world.reviewers():
        run = detect_and_review.test(run_conf=world.conf(endpoint_name="team-detector"))

    assert run.state == "success", states(run)
    task_states = states(run)
    # The setup and teardown tasks succeed without touching anything, so detection still runs.
    assert {task_states[task] for task in (*DEPLOY_TASKS, "delete_endpoint")} == {"success"}
    endpoints, _configs, models = deployed_resources(world)
    assert [e["EndpointName"] for e in endpoints] == ["team-detector"]
    assert [m["ModelName"] for m in models] == ["team-detector"]
    summary, _ = published(world, run)
    assert summary["by_status"]["reviewed"] == 7


def run_with_street_05(world, detect_and_review, treat: Callable[[str], None]):
    """A run whose street-05 loop meets `treat(loop name)` while a scripted reviewer answers the rest."""
    from local_aws.actors.scripted_reviewer import ScriptedReviewer

    reviewer = ScriptedReviewer(world.stack.emulator_url, world.client("s3"))
    stop = threading.Event()

    def is_street_05(loop: dict) -> bool:
        return loop["InputContent"]["taskObject"].endswith("street-05.jpg")

    def treat_street_05_answer_the_rest():
        while not stop.wait(0.2):
            pending = requests.get(f"{world.stack.emulator_url}/reviewer/loops?status=pending", timeout=10)
            for loop in filter(is_street_05, pending.json()["loops"]):
                treat(loop["HumanLoopName"])
            reviewer.poll_once(only=lambda loop: not is_street_05(loop))

    thread = threading.Thread(target=treat_street_05_answer_the_rest, daemon=True)
    thread.start()
    try:
        return detect_and_review.test(run_conf=world.conf())
    finally:
        stop.set()
        thread.join(timeout=10)


def test_an_expired_loop_gives_review_failed_and_the_run_still_publishes(world, detect_and_review):
    def expire(name: str) -> None:
        requests.post(
            f"{world.stack.emulator_url}/reviewer/loops/{name}/fail",
            json={"FailureCode": "Expired", "FailureReason": "No worker took the task in time"},
            timeout=10,
        ).raise_for_status()

    run = run_with_street_05(world, detect_and_review, expire)

    assert run.state == "success", states(run)
    summary, records = published(world, run)
    (failed,) = [r for r in records if r["status"] == "review_failed"]
    assert failed["image_s3_uri"].endswith("street-05.jpg")
    assert "Expired" in failed["error"]
    assert failed["boxes"] == [box for box in failed["model_boxes"] if box["score"] >= 0.9]
    assert summary["by_status"] == {"accepted": 5, "reviewed": 6, "review_failed": 1, "error": 0}


def test_when_detection_fails_the_endpoint_is_still_deleted_and_the_run_fails(world, detect_and_review):
    inject_fault(world.stack, "InvokeEndpoint", "InternalFailure", status=500, count=10_000)

    run = detect_and_review.test(run_conf=world.conf())

    assert run.state == "failed"
    task_states = states(run)
    assert task_states["detect_objects"] == "failed"
    assert task_states["delete_endpoint"] == "success"
    assert deployed_resources(world) == ([], [], [])
    assert world.loop_names() == []


def test_rerunning_a_whole_run_starts_no_second_loop_and_publishes_the_same_results(world, detect_and_review):
    logical_date = datetime(2026, 11, 20, tzinfo=UTC)
    with world.reviewers():
        first = detect_and_review.test(
            run_conf=world.conf(), logical_date=logical_date, run_after=logical_date
        )
        loops = world.loop_names()
        _, first_records = published(world, first)
        second = detect_and_review.test(
            run_conf=world.conf(), logical_date=logical_date, run_after=logical_date
        )

    assert first.run_id == second.run_id
    assert second.state == "success", states(second)
    assert world.loop_names() == loops
    assert len(loops) == 7
    _, second_records = published(world, second)
    assert second_records == first_records


def test_starting_loops_is_retried_after_a_failure_without_a_second_loop(world, detect_and_review):
    # Enough 500s for every call of the first try to spend its retries (7 loops started at once,
    # 11 attempts each); the retry meets the few left over and gets through.
    inject_fault(world.stack, "StartHumanLoop", "InternalServerException", status=500, count=80)
    with world.reviewers():
        run = detect_and_review.test(run_conf=world.conf())

    assert run.state == "success", states(run)
    start_tries = {ti.try_number for ti in run.get_task_instances() if ti.task_id == "start_reviews"}
    assert max(start_tries) > 1
    assert len(world.loop_names()) == 7


@pytest.mark.parametrize(
    ("conf", "field"),
    [({"threshold": 1.5}, "threshold"), ({"labels": [f"l{n}" for n in range(11)]}, "labels")],
)
def test_params_the_schema_rejects_never_make_a_run(world, detect_and_review, conf, field):
    with pytest.raises(ParamValidationError, match=field):
        detect_and_review.test(run_conf=world.conf(**conf))
    assert deployed_resources(world) == ([], [], [])


def test_params_the_first_task_rejects_fail_the_run_before_anything_is_deployed(world, detect_and_review):
    run = detect_and_review.test(run_conf=world.conf(class_thresholds={"truck": 0.5}))

    assert run.state == "failed"
    task_states = states(run)
    assert task_states["plan_run"] == "failed"
    assert task_states["deploy_model"] in ("upstream_failed", None)
    assert deployed_resources(world) == ([], [], [])


def test_a_failed_endpoint_delete_still_publishes_the_reviews_and_fails_the_run(
    world, detect_and_review, capfd
):
    # Every DeleteEndpoint fails, through botocore's retries and the task's.
    inject_fault(world.stack, "DeleteEndpoint", "InternalFailure", status=500, count=10_000)
    with world.reviewers():
        run = detect_and_review.test(run_conf=world.conf())

    assert run.state == "failed"
    task_states = states(run)
    # The last check fails the run; the wait began once the teardown was over, and the answers
    # were collected and published.
    assert task_states["delete_endpoint"] == task_states["check_endpoint_deleted"] == "failed"
    assert {task_states[task] for task in ("wait_for_reviews", "collect_reviews", "publish_results")} == {
        "success"
    }
    summary, _ = published(world, run)
    assert summary["by_status"] == {"accepted": 5, "reviewed": 7, "review_failed": 0, "error": 0}
    (endpoint,) = deployed_resources(world)[0]
    name = endpoint["EndpointName"]
    log = capfd.readouterr().out
    command = f"aws sagemaker delete-endpoint --endpoint-name {name}"
    billing = f"It is still running and billing. Delete it with: {command}"
    assert f"Deleting SageMaker endpoint {name} failed: " in log
    assert f"SageMaker endpoint {name} is still there. {billing}" in log


def test_a_loop_stopped_and_deleted_by_someone_ends_the_wait_and_the_others_are_published(
    world, detect_and_review
):
    a2i = world.client("sagemaker-a2i-runtime")

    def stop_and_delete(name: str) -> None:
        a2i.stop_human_loop(HumanLoopName=name)
        a2i.delete_human_loop(HumanLoopName=name)

    run = run_with_street_05(world, detect_and_review, stop_and_delete)

    assert run.state == "success", states(run)
    summary, records = published(world, run)
    (failed,) = [r for r in records if r["status"] == "review_failed"]
    assert failed["image_s3_uri"].endswith("street-05.jpg")
    assert failed["error"] == (
        f"human loop {failed['review']['task']} was deleted before its answers were collected: "
        "it no longer exists"
    )
    assert failed["boxes"] == [box for box in failed["model_boxes"] if box["score"] >= 0.9]
    assert summary["by_status"] == {"accepted": 5, "reviewed": 6, "review_failed": 1, "error": 0}
