"""LabelStudioHook against a real Label Studio (the session's, see conftest.py)."""

import boto3
import httpx
import pytest
from labelstudio_helpers import BOX_LABEL_CONFIG, MODEL_VERSION, prediction

from hitl_detection.hooks import label_studio as label_studio_module
from hitl_detection.hooks.label_studio import LabelStudioApiError, LabelStudioHook

# The first test also waits for the session's Label Studio: a first start and a restart.
pytestmark = [pytest.mark.labelstudio, pytest.mark.timeout(900)]

BOX = {"x": 12.5, "y": 20.0, "width": 25.0, "height": 40.0, "rotation": 0}


def request_paths(hook: LabelStudioHook) -> list[str]:
    """The method and path of every request the hook sends from now on."""
    sent: list[str] = []
    hook.client.event_hooks["request"].append(
        lambda request: sent.append(f"{request.method} {request.url.path}")
    )
    return sent


def image_tasks(keys: list[str], run_id: str = "run-1") -> list[dict]:
    return [
        {
            "data": {"image": f"s3://images/{key}", "image_key": key, "run_id": run_id},
            "predictions": [prediction([("car", 0.55, 12.5, 20.0, 25.0, 40.0)])],
        }
        for key in keys
    ]


# The server and both kinds of token


def test_health(hook):
    assert hook.health() is True


def test_legacy_token_authenticates_as_the_admin(hook, label_studio):
    assert hook.whoami()["email"] == label_studio.username


def test_personal_access_token_is_exchanged_for_an_access_token_once(pat_hook, label_studio):
    sent = request_paths(pat_hook)

    assert pat_hook.whoami()["email"] == label_studio.username
    assert pat_hook.list_projects() is not None

    assert sent == ["POST /api/token/refresh", "GET /api/current-user/whoami", "GET /api/projects"]


def test_access_token_is_renewed_when_its_time_is_up(pat_hook, monkeypatch):
    monkeypatch.setattr(label_studio_module, "ACCESS_TOKEN_RENEW_AFTER", 0.0)  # due at once
    sent = request_paths(pat_hook)

    pat_hook.whoami()
    pat_hook.whoami()

    assert sent.count("POST /api/token/refresh") == 2


def test_a_refused_access_token_is_renewed_once_and_the_call_repeated(pat_hook, label_studio):
    pat_hook.whoami()
    # As after a restart with another signing key: the cached access token no longer verifies.
    pat_hook._access_token = "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl"
    sent = request_paths(pat_hook)

    assert pat_hook.whoami()["email"] == label_studio.username
    assert sent == ["GET /api/current-user/whoami", "POST /api/token/refresh", "GET /api/current-user/whoami"]


def test_a_wrong_legacy_token_names_the_call_the_status_and_the_connection(connect):
    connect("label_studio_wrong", password="not-the-token")

    with pytest.raises(LabelStudioApiError) as raised:
        LabelStudioHook("label_studio_wrong").whoami()

    assert raised.value.status == 401
    message = str(raised.value)
    assert "GET /api/current-user/whoami: HTTP 401" in message
    assert "Invalid token" in message
    assert "legacy token in connection 'label_studio_wrong' was refused" in message


def test_a_forged_personal_access_token_fails_at_the_exchange(connect, prepared_data_dir):
    header, payload, _ = prepared_data_dir.personal_access_token.split(".")
    connect("label_studio_forged", password=f"{header}.{payload}.Zm9yZ2Vk")

    with pytest.raises(LabelStudioApiError) as raised:
        LabelStudioHook("label_studio_forged").whoami()

    assert raised.value.status == 401
    assert "POST /api/token/refresh: HTTP 401" in str(raised.value)
    assert "personal access token in connection 'label_studio_forged' was refused" in str(raised.value)


def test_a_revoked_personal_access_token_is_refused(connect, prepared_data_dir):
    connect("label_studio_revoked", password=prepared_data_dir.revoked_personal_access_token)

    with pytest.raises(LabelStudioApiError, match=r"POST /api/token/refresh: HTTP 401: .*blacklisted"):
        LabelStudioHook("label_studio_revoked").whoami()


def test_host_without_scheme_takes_schema_and_port_from_the_connection(connect, label_studio):
    host, port = label_studio.url.removeprefix("http://").split(":")
    connect("label_studio_parts", host=host, port=port, schema="http")

    hook = LabelStudioHook("label_studio_parts")

    assert hook.base_url == label_studio.url
    assert hook.health() is True


# Projects


def test_create_update_and_find_a_project_by_its_exact_title(hook):
    wanted = hook.create_project(
        title="review alpha", label_config=BOX_LABEL_CONFIG, model_version=MODEL_VERSION
    )
    hook.create_project(title="review alpha 2")  # also matches the server's own (substring) filter

    # (A PATCH of model_version is refused until predictions of that version exist; a POST takes it.)
    updated = hook.update_project(wanted["id"], maximum_annotations=2)

    assert updated["maximum_annotations"] == 2
    assert hook.get_project(wanted["id"])["model_version"] == MODEL_VERSION
    assert [found["id"] for found in hook.list_projects(title="review alpha")] == [wanted["id"]]
    assert {"review alpha", "review alpha 2"} <= {found["title"] for found in hook.list_projects()}


def test_a_missing_project_raises_with_its_path(hook):
    with pytest.raises(LabelStudioApiError, match=r"GET /api/projects/987654: HTTP 404"):
        hook.get_project(987654)


# Tasks


def test_import_tasks_with_a_prediction_returns_their_ids(hook, project):
    task_ids = hook.import_tasks(project["id"], image_tasks(["a.jpg", "b.jpg", "c.jpg"]))

    assert len(task_ids) == 3
    assert all(isinstance(task_id, int) for task_id in task_ids)
    task = hook.get_task(task_ids[1])
    assert task["data"]["image_key"] == "b.jpg"
    [predicted] = task["predictions"]
    assert predicted["model_version"] == MODEL_VERSION
    assert predicted["score"] == pytest.approx(0.55)
    [region] = predicted["result"]
    assert region["value"] == {**BOX, "rectanglelabels": ["car"]}
    assert (region["original_width"], region["original_height"]) == (640, 480)


def test_iter_tasks_filters_on_data_fields_across_pages(hook, project):
    keys = [f"img-{number}.jpg" for number in range(7)]
    ids = hook.import_tasks(
        project["id"], image_tasks(keys[:5], run_id="run-a") + image_tasks(keys[5:], "run-b")
    )
    sent = request_paths(hook)

    run_a = list(hook.iter_tasks(project["id"], filters={"run_id": "run-a"}, page_size=2))
    [one] = hook.iter_tasks(project["id"], filters={"image_key": "img-3.jpg", "run_id": "run-a"}, page_size=2)
    everything = list(hook.iter_tasks(project["id"], page_size=3))

    assert [task["id"] for task in run_a] == ids[:5]
    assert one["id"] == ids[3]
    assert [task["id"] for task in everything] == ids
    # Pages of 2 for 5 tasks, 1 for 1 task, pages of 3 for 7 tasks: no request past the last page.
    assert sent.count("GET /api/tasks") == 3 + 1 + 3
    assert list(hook.iter_tasks(project["id"], filters={"image_key": "nowhere.jpg"})) == []


def test_iter_tasks_ends_when_tasks_vanish_between_pages(hook, project):
    ids = hook.import_tasks(project["id"], image_tasks(["a.jpg", "b.jpg", "c.jpg"]))
    tasks = hook.iter_tasks(project["id"], page_size=2)

    first = next(tasks)
    for task_id in ids[1:]:
        hook.delete_task(task_id)

    # The first page was read before the deletions; page 2 no longer exists.
    assert [first["id"], *(task["id"] for task in tasks)] == ids[:2]


def test_delete_task_then_get_task_is_none(hook, project):
    [task_id] = hook.import_tasks(project["id"], image_tasks(["gone.jpg"]))

    assert hook.delete_task(task_id) is True

    assert hook.get_task(task_id) is None
    assert hook.delete_task(task_id) is False


# Reviews


def test_an_annotation_is_read_back_with_its_task(hook, project, label_studio):
    [task_id] = hook.import_tasks(project["id"], image_tasks(["reviewed.jpg"]))
    result = [
        {
            "from_name": "label",
            "to_name": "image",
            "type": "rectanglelabels",
            "original_width": 640,
            "original_height": 480,
            "image_rotation": 0,
            "value": {**BOX, "rectanglelabels": ["dog"]},
        }
    ]

    created = hook.create_annotation(task_id, result, lead_time=4.5)

    [annotation] = hook.get_task(task_id)["annotations"]
    assert annotation["id"] == created["id"]
    assert annotation["result"][0]["value"] == {**BOX, "rectanglelabels": ["dog"]}
    assert annotation["was_cancelled"] is False
    assert annotation["lead_time"] == pytest.approx(4.5)
    assert annotation["completed_by"]["email"] == label_studio.username
    [listed] = hook.iter_tasks(project["id"], filters={"image_key": "reviewed.jpg"})
    assert [found["id"] for found in listed["annotations"]] == [created["id"]]


def test_a_skipped_task_shows_was_cancelled(hook, project):
    [task_id] = hook.import_tasks(project["id"], image_tasks(["skipped.jpg"]))

    hook.skip_task(task_id)

    task = hook.get_task(task_id)
    [annotation] = task["annotations"]
    assert annotation["was_cancelled"] is True
    assert annotation["result"] == []
    assert (task["cancelled_annotations"], task["total_annotations"]) == (1, 0)


# Images in S3


def test_an_s3_import_storage_on_moto_resolves_task_images(hook, project, moto_url, label_studio):
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.create_bucket(Bucket="review-images")
    s3.put_object(Bucket="review-images", Key="in/a.jpg", Body=b"jpeg bytes")

    storage = hook.create_s3_import_storage(
        project["id"],
        title="review images",
        bucket="review-images",
        prefix="in/",
        presign=True,
        presign_ttl=15,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        s3_endpoint=moto_url,
    )

    assert storage["type"] == "s3"
    assert [(found["id"], found["type"]) for found in hook.list_import_storages(project["id"])] == [
        (storage["id"], "s3")
    ]
    [task_id] = hook.import_tasks(project["id"], [{"data": {"image": "s3://review-images/in/a.jpg"}}])
    resolved = hook.get_task(task_id)["data"]["image"]
    assert resolved != "s3://review-images/in/a.jpg"
    # What a reviewer's browser does: follow Label Studio's link to a presigned URL on moto.
    reviewer = {"Authorization": f"Token {label_studio.token}"}
    image = hook.client.get(resolved, headers=reviewer, follow_redirects=True)
    assert image.status_code == httpx.codes.OK
    assert image.content == b"jpeg bytes"
