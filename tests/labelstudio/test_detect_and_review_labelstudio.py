"""detect_and_review with review_backend labelstudio, end to end: real DAG runs (dag.test) against
the local stand-in for AWS and a real Label Studio, reviewers answering through its API."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from labelstudio_world import (
    BUCKET,
    LABELS,
    REVIEWED,
    TRUTH,
    file_name,
    published,
    returned,
    setup_conf,
    states,
)

from hitl_detection.domain.boxes import Box, match_boxes
from hitl_detection.domain.label_studio_config import parse_labeling_config
from hitl_detection.domain.s3_uri import parse_s3_uri
from local_labelstudio.reviewer import REVIEWER_EMAIL

pytestmark = [pytest.mark.labelstudio, pytest.mark.stack, pytest.mark.timeout(900)]

FIRST_REVIEWER = REVIEWER_EMAIL.format(number=1)
SECOND_REVIEWER = REVIEWER_EMAIL.format(number=2)
DEPLOY_TASKS = ("deploy_model", "deploy_endpoint_config", "deploy_endpoint")


def truth_boxes(record: dict) -> list[Box]:
    return [
        Box(t["label"], t["left"], t["top"], t["width"], t["height"], source="human")
        for t in TRUTH[file_name(record)]
        if t["label"] in LABELS
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


def test_setup_makes_the_project_and_a_second_run_reuses_it(make_world, dag_bag, aws):
    world = make_world(reviewers=1)

    project = _project(world)
    assert project["maximum_annotations"] == 1
    assert project["show_collab_predictions"] is True
    assert project["model_version"] == "hitl-detection"
    assert [label for label in LABELS if f'<Label value="{label}"/>' in project["label_config"]] == LABELS
    [storage] = _storages(world)
    assert (storage["type"], storage["bucket"], storage["presign"]) == ("s3", BUCKET, True)
    assert storage["s3_endpoint"] == aws.moto_url

    again = dag_bag.get_dag("review_workflow_setup").test(run_conf=setup_conf(project["title"], reviewers=2))

    assert again.state == "success", states(again)
    assert returned(again, "ensure_label_studio_project") == world.project_id
    assert _project(world)["maximum_annotations"] == 2
    assert len(_storages(world)) == 1
    skipped = {ti.task_id: ti.state for ti in again.get_task_instances()}
    assert skipped["ensure_flow_definition"] == "skipped"


def test_setup_refuses_other_labels_under_a_projects_title_and_needs_the_images(make_world, dag_bag):
    world = make_world()
    setup = dag_bag.get_dag("review_workflow_setup")

    other_labels = setup.test(run_conf=setup_conf(_project(world)["title"], labels=["car", "dog"]))
    no_images = setup.test(run_conf=setup_conf("no images given", images_s3_uri=None))

    assert other_labels.state == "failed"
    assert states(other_labels)["ensure_label_studio_project"] == "failed"
    assert no_images.state == "failed"
    assert states(no_images)["choose_review_backend"] == "failed"
    assert parse_labeling_config(_project(world)["label_config"]).labels == tuple(LABELS)


def test_a_reviewed_run_publishes_the_ground_truth_and_deletes_what_it_deployed(world, dag_bag):
    with world.reviewers():
        run = dag_bag.get_dag("detect_and_review").test(run_conf=world.conf())

    assert run.state == "success", states(run)
    summary, records = published(world.stack, run)
    assert [file_name(r) for r in records] == sorted(TRUTH)
    assert sorted(file_name(r) for r in records if r["status"] == "reviewed") == REVIEWED
    assert summary["by_status"] == {"accepted": 5, "reviewed": 7, "review_failed": 0, "error": 0}
    tasks = {task["data"]["image_key"].rsplit("/", 1)[-1]: task for task in world.tasks()}
    assert sorted(tasks) == REVIEWED
    for record in records:
        # The reviewer draws the truth; the model's confident boxes are a few pixels off it.
        assert_matches_truth(
            record, iou=0.99 if record["status"] == "reviewed" and not record["boxes"] else 0.7
        )
        if record["status"] != "reviewed":
            continue
        task = tasks[file_name(record)]
        review = record["review"]
        assert (review["backend"], review["project_id"], review["task_id"]) == (
            "labelstudio",
            world.project_id,
            task["id"],
        )
        assert review["reviewers"] == [FIRST_REVIEWER]
        assert review["time_spent_seconds"][0] > 0
        assert review["url"].endswith(f"/projects/{world.project_id}/data?task={task['id']}")
        # The task showed the model's confident boxes (percent, scores) and named the uncertain ones.
        [prediction] = task["predictions"]
        assert prediction["model_version"] == "hitl-detection"
        confident = [b for b in record["model_boxes"] if b["score"] >= 0.9 and b["label"] in LABELS]
        assert len(prediction["result"]) == len(confident)
        assert task["data"]["hints"] != "nothing"
        assert task["data"]["image"] == record["image_s3_uri"]
    street_08 = next(r for r in records if file_name(r) == "street-08.jpg")
    # The model missed the tiny person and was unsure of the tiny car: both came from the reviewer.
    assert sorted(box["label"] for box in street_08["changes"]["added"]) == ["car", "person"]
    assert deployed_resources(world) == ([], [], [])


def test_two_reviewers_answers_are_merged(make_world, dag_bag):
    world = make_world(reviewers=2)
    with world.reviewers(workers=2):
        run = dag_bag.get_dag("detect_and_review").test(run_conf=world.conf())

    assert run.state == "success", states(run)
    _, records = published(world.stack, run)
    reviewed = [r for r in records if r["status"] == "reviewed"]
    assert len(reviewed) == 7
    for record in reviewed:
        assert record["review"]["reviewers"] == [FIRST_REVIEWER, SECOND_REVIEWER]
        # The second reviewer's boxes wobble by up to 2 px: the merge still gives one box per object.
        assert_matches_truth(record, iou=0.5)
    assert all(task["total_annotations"] == 2 for task in world.tasks())


def test_a_skipped_task_gives_review_failed_and_the_run_still_publishes(world, dag_bag):
    with world.reviewers(skip={"street-05.jpg"}):
        run = dag_bag.get_dag("detect_and_review").test(run_conf=world.conf())

    assert run.state == "success", states(run)
    summary, records = published(world.stack, run)
    (failed,) = [r for r in records if r["status"] == "review_failed"]
    assert file_name(failed) == "street-05.jpg"
    assert failed["error"].endswith(f"was skipped by {FIRST_REVIEWER}")
    assert failed["boxes"] == [box for box in failed["model_boxes"] if box["score"] >= 0.9]
    assert summary["by_status"] == {"accepted": 5, "reviewed": 6, "review_failed": 1, "error": 0}


def test_a_task_deleted_in_label_studio_ends_the_wait_and_the_others_are_published(world, dag_bag):
    def delete_street_05(task: dict) -> bool:
        """What someone tidying the project does; the reviewer then finds the task gone."""
        if not (task["data"].get("image_key") or "").endswith("/street-05.jpg"):
            return False
        headers = {"Authorization": f"Token {world.studio.token}"}
        httpx.delete(
            f"{world.studio.url}/api/tasks/{task['id']}", headers=headers, timeout=30
        ).raise_for_status()
        return True

    with world.reviewers(skip=delete_street_05):
        run = dag_bag.get_dag("detect_and_review").test(run_conf=world.conf())

    assert run.state == "success", states(run)
    summary, records = published(world.stack, run)
    (failed,) = [r for r in records if r["status"] == "review_failed"]
    assert file_name(failed) == "street-05.jpg"
    assert failed["error"] == (
        f"Label Studio task {failed['review']['task_id']} of project {world.project_id} was deleted before "
        "its answers were collected: it no longer exists"
    )
    assert summary["by_status"] == {"accepted": 5, "reviewed": 6, "review_failed": 1, "error": 0}


def test_a_cleared_run_rerun_imports_no_second_task_and_publishes_the_same_results(world, dag_bag):
    moment = datetime(2026, 11, 20, tzinfo=UTC)
    detect_and_review = dag_bag.get_dag("detect_and_review")
    with world.reviewers():
        first = detect_and_review.test(run_conf=world.conf(), logical_date=moment, run_after=moment)
        tasks = sorted(task["id"] for task in world.tasks())
        _, first_records = published(world.stack, first)
        # As if start_reviews had imported the tasks and died before writing what it started.
        bucket, folder = parse_s3_uri(returned(first, "publish_results"))
        s3 = world.client("s3")
        for listed in s3.list_objects_v2(Bucket=bucket, Prefix=f"{folder}work/reviews/")["Contents"]:
            s3.delete_object(Bucket=bucket, Key=listed["Key"])
        second = detect_and_review.test(run_conf=world.conf(), logical_date=moment, run_after=moment)

    assert first.run_id == second.run_id
    assert second.state == "success", states(second)
    assert len(tasks) == 7
    assert sorted(task["id"] for task in world.tasks()) == tasks
    assert returned(second, "start_reviews")["reused"] == 7
    assert returned(second, "start_reviews")["started"] == 0
    _, second_records = published(world.stack, second)
    assert second_records == first_records


@pytest.mark.parametrize("bad", ["no such project", "other labels"])
def test_a_bad_project_is_refused_before_anything_is_deployed(world, dag_bag, bad):
    conf = (
        world.conf(label_studio_project_id=987654) if bad == "no such project" else world.conf(labels=["car"])
    )

    run = dag_bag.get_dag("detect_and_review").test(run_conf=conf)

    assert run.state == "failed"
    task_states = states(run)
    assert task_states["plan_run"] == "failed"
    assert {task_states[task] for task in DEPLOY_TASKS} <= {"upstream_failed", None}
    assert deployed_resources(world) == ([], [], [])
    assert world.tasks() == []


def _project(world) -> dict:
    headers = {"Authorization": f"Token {world.studio.token}"}
    return httpx.get(f"{world.studio.url}/api/projects/{world.project_id}", headers=headers).json()


def _storages(world) -> list[dict]:
    headers = {"Authorization": f"Token {world.studio.token}"}
    answer = httpx.get(
        f"{world.studio.url}/api/storages", params={"project": world.project_id}, headers=headers
    )
    return answer.json()
