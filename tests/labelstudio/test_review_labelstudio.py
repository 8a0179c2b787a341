"""The Label Studio review backend against a real Label Studio (the session's) and moto's S3."""

from __future__ import annotations

import boto3
import httpx
import pytest

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.review_tasks import ReviewRequest, ReviewTicket
from hitl_detection.domain.run_config import RunConfig
from hitl_detection.domain.streams import ordered_map
from hitl_detection.hooks.label_studio import LabelStudioApiError
from hitl_detection.operators.review_workflow import LABEL_STUDIO_MODEL_VERSION, render_labeling_config
from hitl_detection.review.base import Connections, ReviewSetupError
from hitl_detection.review.factory import build_review_backend, review_settings
from hitl_detection.review.labelstudio import LabelStudioReviewBackend

pytestmark = [pytest.mark.labelstudio, pytest.mark.timeout(900)]

# A run key as plan_run makes it: the run id, the DAG id and the deployment id.
RUN_ID = "manual__2026-12-01T10:00:00+00:00:detect_and_review:5f0c2a9e41d7b3c6"
BUCKET = "review-backend-images"
LABELS = ("car", "person")
SIZE = (640, 400)
CAR = Box("car", 64, 40, 320, 120, score=0.97)
PERSON_MAYBE = Box("person", 500, 100, 40, 80, score=0.55)


def request_for(key: str, run_key: str = RUN_ID) -> ReviewRequest:
    return ReviewRequest(
        run_key=run_key,
        image_key=f"images/{key}",
        image_s3_uri=f"s3://{BUCKET}/images/{key}",
        image_size=SIZE,
        labels=LABELS,
        initial_boxes=(CAR,),
        uncertain_boxes=(PERSON_MAYBE,),
    )


def request_paths(hook) -> list[str]:
    sent: list[str] = []
    hook.client.event_hooks["request"].append(
        lambda request: sent.append(f"{request.method} {request.url.path}")
    )
    return sent


def region(box: Box, size=SIZE) -> dict:
    width, height = size
    return {
        "from_name": "label",
        "to_name": "image",
        "type": "rectanglelabels",
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
        "value": {
            "x": 100 * box.left / width,
            "y": 100 * box.top / height,
            "width": 100 * box.width / width,
            "height": 100 * box.height / height,
            "rotation": 0,
            "rectanglelabels": [box.label],
        },
    }


@pytest.fixture(scope="module")
def image_bucket(moto_url) -> str:
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture
def make_project(hook, request, moto_url, image_bucket, project_root):
    template = (project_root / "include" / "templates" / "label_studio_bounding_box.xml.j2").read_text()

    def make(reviewers: int = 1, labels=LABELS, storage: bool = True) -> dict:
        project = hook.create_project(
            title=request.node.name[:50],
            label_config=render_labeling_config(template, labels),
            model_version=LABEL_STUDIO_MODEL_VERSION,
            show_collab_predictions=True,
            maximum_annotations=reviewers,
        )
        if storage:
            hook.create_s3_import_storage(
                project["id"],
                bucket=image_bucket,
                presign=True,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                s3_endpoint=moto_url,
            )
        return project

    return make


@pytest.fixture
def project(make_project) -> dict:
    return make_project()


def backend_for(project_id: int, image_bucket: str | None = BUCKET) -> LabelStudioReviewBackend:
    return LabelStudioReviewBackend({"project_id": project_id, "image_bucket": image_bucket}, Connections())


@pytest.fixture
def backend(hook, project) -> LabelStudioReviewBackend:
    return backend_for(project["id"])


# The check before a run spends anything


def test_a_project_made_from_the_template_with_the_runs_labels_passes(backend):
    backend.check(list(LABELS))


def test_a_missing_project_is_refused_naming_it_and_the_label_studio(hook, label_studio):
    with pytest.raises(ReviewSetupError) as raised:
        backend_for(987654).check(list(LABELS))
    assert str(raised.value) == (
        f"label_studio_project_id 987654: no such project in the Label Studio at {label_studio.url} "
        "(connection label_studio_default); run review_workflow_setup with review_backend labelstudio "
        "to make one"
    )


def test_a_project_with_other_labels_no_predictions_and_no_storage_is_refused_naming_each_problem(
    hook, make_project
):
    project = make_project(labels=("car", "dog"), storage=False)
    hook.update_project(project["id"], show_collab_predictions=False)

    with pytest.raises(ReviewSetupError) as raised:
        backend_for(project["id"]).check(list(LABELS))

    message = str(raised.value)
    assert message.startswith(f"label_studio_project_id {project['id']} ('{project['title']}' at http://")
    assert (
        "cannot take this run's reviews: its labeling config offers labels ['car', 'dog'], expected "
        in message
    )
    assert "it lacks ['person'] and also offers ['dog']" in message
    assert "it does not show predictions to reviewers" in message
    assert f"it has no S3 source storage of bucket '{BUCKET}'" in message


def test_a_refused_token_is_a_setup_error(connect, project):
    connect(password="not-the-token")
    with pytest.raises(ReviewSetupError, match=r"HTTP 401"):
        backend_for(project["id"]).check(list(LABELS))


def test_the_factory_builds_the_backend_from_the_runs_config():
    config = RunConfig.from_params(
        {
            "input_s3_uri": f"s3://{BUCKET}/images/",
            "output_s3_uri": "s3://results/out/",
            "labels": list(LABELS),
            "endpoint_name": "team-detector",
            "review_backend": "labelstudio",
            "label_studio_project_id": 12,
        }
    )
    review = review_settings(config)
    assert review == {"backend": "labelstudio", "settings": {"project_id": 12, "image_bucket": BUCKET}}
    backend = build_review_backend(review, Connections(label_studio_conn_id="team_label_studio"))
    assert isinstance(backend, LabelStudioReviewBackend)
    assert backend.hook.label_studio_conn_id == "team_label_studio"


@pytest.mark.parametrize("project_id", [None, 0, "12", True])
def test_the_backend_needs_a_project_id(project_id):
    with pytest.raises(ValueError, match="needs a label_studio_project_id"):
        LabelStudioReviewBackend({"project_id": project_id}, Connections())


# Starting tasks


def test_a_task_carries_the_image_the_run_the_models_boxes_and_the_hints(hook, backend, project):
    ticket = backend.start(request_for("street-01.jpg"))

    assert ticket.reused is False
    task = hook.get_task(int(ticket.handle))
    assert task["project"] == project["id"]
    data = task["data"]
    assert {key: data[key] for key in ("run", "image_key", "name", "image_width", "image_height")} == {
        "run": RUN_ID,
        "image_key": "images/street-01.jpg",
        "name": ticket.name,
        "image_width": 640,
        "image_height": 400,
    }
    assert data["hints"] == "person 55% at left 500, top 100, 40 x 80 px"
    [prediction] = task["predictions"]
    assert prediction["model_version"] == project["model_version"]
    [shown] = prediction["result"]
    assert shown["value"] == {**region(CAR)["value"]}
    assert shown["score"] == pytest.approx(0.97)


def test_starts_are_imported_in_batches_and_a_retry_reuses_every_task(hook, project):
    keys = [f"img-{number:02d}.jpg" for number in range(20)]
    first = backend_for(project["id"])
    sent = request_paths(first.hook)

    tickets = list(ordered_map(lambda key: first.start(request_for(key)), keys, workers=first.parallel_calls))

    imports = sent.count(f"POST /api/projects/{project['id']}/import")
    assert 1 <= imports <= 4, sent
    assert len({ticket.handle for ticket in tickets}) == 20
    assert not any(ticket.reused for ticket in tickets)

    again = backend_for(project["id"])  # a retried or cleared task: a backend of its own
    sent_again = request_paths(again.hook)
    reused = list(ordered_map(lambda key: again.start(request_for(key)), keys, workers=again.parallel_calls))

    assert [(t.name, t.handle) for t in reused] == [(t.name, t.handle) for t in tickets]
    assert all(ticket.reused for ticket in reused)
    assert sent_again == ["GET /api/tasks"]  # one sweep of the run's tasks, nothing imported
    assert len(list(hook.iter_tasks(project["id"]))) == 20


def test_another_runs_tasks_are_never_reused(hook, backend, project):
    mine = backend.start(request_for("a.jpg"))
    # The same run id in another deployment (staging beside prod) is another run.
    theirs = backend_for(project["id"]).start(request_for("a.jpg", run_key=f"{RUN_ID}-staging"))
    assert mine.handle != theirs.handle
    assert mine.name != theirs.name


# Waiting


def test_progress_counts_answered_and_skipped_tasks_in_one_sweep_and_a_deleted_one_is_found_by_id(
    hook, backend
):
    tickets = [backend.start(request_for(key)) for key in ("a.jpg", "b.jpg", "c.jpg", "d.jpg")]
    scope = backend.progress_scope(RUN_ID, started_after=None)
    assert scope == {"project_id": backend.project_id, "run": RUN_ID}

    waiting = backend.progress(scope, 4)
    assert (waiting.finished, waiting.failed, waiting.done) == (0, (), False)
    assert sorted(waiting.pending) == sorted(ticket.name for ticket in tickets)

    hook.create_annotation(int(tickets[0].handle), [region(CAR)])
    hook.skip_task(int(tickets[1].handle))
    hook.delete_task(int(tickets[2].handle))
    sent = request_paths(backend.hook)
    progress = backend.progress(scope, 4)

    assert sent == [f"GET /api/projects/{backend.project_id}", "GET /api/tasks"]
    # A deleted task is missing from the sweep: not listed, not finished.
    assert (progress.finished, progress.listed, progress.unlisted) == (2, 3, 1)
    assert progress.failed == (tickets[1].name,)
    assert progress.pending == (tickets[3].name,)

    sent.clear()
    deleted = backend.deleted(scope, tickets)

    # One sweep, then a read by id of the one task it did not list.
    assert sent == ["GET /api/tasks", f"GET /api/tasks/{tickets[2].handle}"]
    assert deleted == [tickets[2].name]
    hook.create_annotation(int(tickets[3].handle), [])
    assert backend.progress(scope, 4).with_deleted(deleted).done
    assert backend.collect(tickets[2]).error == (
        f"Label Studio task {tickets[2].handle} of project {backend.project_id} was deleted before its "
        "answers were collected: it no longer exists"
    )


def test_a_task_needs_the_projects_number_of_annotations(hook, make_project):
    backend = backend_for(make_project(reviewers=2)["id"])
    ticket = backend.start(request_for("a.jpg"))
    scope = backend.progress_scope(RUN_ID, started_after=None)

    hook.create_annotation(int(ticket.handle), [region(CAR)], lead_time=3)
    assert backend.progress(scope, 1).pending == (ticket.name,)
    hook.create_annotation(int(ticket.handle), [region(CAR)], lead_time=5)

    assert backend.progress(scope, 1).done
    outcome = backend.collect(ticket)
    assert [answer.time_spent_seconds for answer in outcome.answers] == [3.0, 5.0]


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (LabelStudioApiError("GET", "/api/tasks", None, "ConnectError"), True),
        (LabelStudioApiError("GET", "/api/tasks", 429, "slow down"), True),
        (LabelStudioApiError("GET", "/api/tasks", 503, "maintenance"), True),
        (LabelStudioApiError("GET", "/api/tasks", 404, "Invalid page."), False),
        (LabelStudioApiError("GET", "/api/tasks", 401, "Invalid token"), False),
        (httpx.ReadTimeout("slow"), True),
        (ValueError("not JSON"), False),
    ],
)
def test_no_answer_throttling_and_server_errors_are_transient(error, transient):
    assert backend_for(1).is_transient(error) is transient


# Collecting


def test_an_answer_comes_back_in_pixels_with_the_review_record(hook, backend, label_studio):
    ticket = backend.start(request_for("street-04.jpg"))
    moved = Box("car", 70, 44, 300, 110, source="human")
    added = Box("person", 600, 10, 8, 20, source="human")
    hook.create_annotation(int(ticket.handle), [region(moved), region(added)], lead_time=42.5)

    outcome = backend.collect(ticket)

    assert outcome.error is None
    [answer] = outcome.answers
    assert answer.boxes == (moved, added)
    assert answer.image_size == SIZE
    review = dict(outcome.review)
    assert review.pop("submitted_at")[0].startswith("20")
    assert review == {
        "backend": "labelstudio",
        "task": ticket.name,
        "project_id": backend.project_id,
        "task_id": int(ticket.handle),
        "url": f"{label_studio.url}/projects/{backend.project_id}/data?task={ticket.handle}",
        "reviewers": [label_studio.username],
        "time_spent_seconds": [42.5],
    }


def test_skipped_deleted_and_unreadable_tasks_are_outcomes_with_the_reason(hook, backend, label_studio):
    skipped, deleted, unreadable = (backend.start(request_for(key)) for key in ("s.jpg", "d.jpg", "u.jpg"))
    hook.skip_task(int(skipped.handle))
    hook.delete_task(int(deleted.handle))
    no_label = region(CAR)
    no_label["value"]["rectanglelabels"] = []
    hook.create_annotation(int(unreadable.handle), [no_label])

    label = f"Label Studio task {{}} of project {backend.project_id}"
    assert (
        backend.collect(skipped).error
        == f"{label.format(skipped.handle)} was skipped by {label_studio.username}"
    )
    assert backend.collect(deleted).error == (
        f"{label.format(deleted.handle)} was deleted before its answers were collected: it no longer exists"
    )
    assert backend.collect(unreadable).error == (
        f"{label.format(unreadable.handle)}: annotations[0].result[0].value.rectanglelabels is [], "
        "expected a list of one label"
    )
    gone = backend.collect(ReviewTicket(skipped.name, None))
    assert gone.error == f"review task {skipped.name} has no Label Studio task id"


def test_a_ticket_whose_task_id_now_names_another_task_is_not_collected(hook, backend):
    first, second = backend.start(request_for("a.jpg")), backend.start(request_for("b.jpg"))
    hook.create_annotation(int(second.handle), [])

    outcome = backend.collect(ReviewTicket(first.name, second.handle))

    assert outcome.error.endswith("(deleted and its id given to another?)")
    assert f"is not review task {first.name}: it is '{second.name}'" in outcome.error


def test_a_task_still_waiting_is_an_open_outcome_with_an_error(backend):
    ticket = backend.start(request_for("a.jpg"))
    outcome = backend.collect(ticket)
    assert outcome.error.endswith("has 0 of 1 annotations; expected it to be finished")
    assert outcome.still_open


def test_a_task_open_at_the_waits_deadline_is_left_open_and_said_so(hook, backend, project):
    ticket = backend.start(request_for("a.jpg"))

    said = backend.end_open(ticket)

    assert said == (
        f"review task {ticket.name} stays open in Label Studio project {project['id']}; "
        "an answer given to it now is not in this run's results"
    )
    assert hook.get_task(int(ticket.handle)) is not None  # Label Studio bills nothing: it is kept
