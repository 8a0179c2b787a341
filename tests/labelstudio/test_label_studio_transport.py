"""LabelStudioHook's retries and errors, on a scripted transport (no server needed)."""

import base64
import json

import httpx
import pytest

from hitl_detection.hooks import label_studio as label_studio_module
from hitl_detection.hooks.label_studio import LabelStudioApiError, LabelStudioHook

pytestmark = pytest.mark.labelstudio

BASE_URL = "http://label-studio.test:8080"


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch) -> list[float]:
    """The backoff delays the hook asked for, without sleeping them."""
    delays: list[float] = []
    monkeypatch.setattr(label_studio_module.time, "sleep", delays.append)
    return delays


def scripted_hook(
    monkeypatch, answers: list[httpx.Response | Exception], token: str = "legacy-token"
) -> tuple[LabelStudioHook, list[httpx.Request]]:
    """A hook whose requests get `answers` in turn; returns it and the requests it sent."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_LABEL_STUDIO_DEFAULT",
        json.dumps({"conn_type": "http", "host": BASE_URL, "password": token}),
    )
    sent: list[httpx.Request] = []
    pending = list(answers)

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        outcome = pending.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    hook = LabelStudioHook(max_attempts=3)
    hook.client = httpx.Client(base_url=hook.base_url, transport=httpx.MockTransport(answer))
    return hook, sent


def ok(body: object) -> httpx.Response:
    return httpx.Response(200, json=body)


def failure(status: int, text: str = "upstream trouble", **headers: str) -> httpx.Response:
    return httpx.Response(status, text=text, headers=headers)


def connect_error() -> httpx.ConnectError:
    return httpx.ConnectError("Connection refused")


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_a_read_is_retried_after_a_transient_status(monkeypatch, no_waiting, status):
    hook, sent = scripted_hook(monkeypatch, [failure(status), ok({"id": 7, "title": "p"})])

    assert hook.get_project(7)["id"] == 7
    assert len(sent) == 2
    assert len(no_waiting) == 1


def test_a_read_is_retried_after_a_connection_error_with_growing_waits(monkeypatch, no_waiting):
    hook, sent = scripted_hook(
        monkeypatch, [connect_error(), httpx.ReadTimeout("slow"), ok({"status": "UP"})]
    )

    assert hook.health() is True
    assert len(sent) == 3
    assert 0 < no_waiting[0] <= label_studio_module.BACKOFF_BASE_SECONDS
    assert no_waiting[1] <= 2 * label_studio_module.BACKOFF_BASE_SECONDS


def test_retry_after_is_honoured_up_to_the_cap(monkeypatch, no_waiting):
    hook, _ = scripted_hook(
        monkeypatch, [failure(429, **{"Retry-After": "3"}), failure(429, **{"Retry-After": "600"}), ok({})]
    )

    hook.whoami()

    assert no_waiting == [3.0, label_studio_module.BACKOFF_CAP_SECONDS]


def test_retries_are_bounded_and_the_error_names_method_path_status_and_body(monkeypatch):
    body = "<html><body>" + "Bad gateway " * 50 + "</body></html>"
    hook, sent = scripted_hook(monkeypatch, [failure(502, body)] * 3)

    with pytest.raises(LabelStudioApiError) as raised:
        hook.get_task(5)

    assert len(sent) == 3
    assert raised.value.status == 502
    message = str(raised.value)
    assert message.startswith("Label Studio GET /api/tasks/5: HTTP 502: <html><body>Bad gateway Bad gateway")
    assert message.endswith("...")
    assert len(message) < 400


def test_no_answer_at_all_says_so(monkeypatch):
    hook, sent = scripted_hook(monkeypatch, [connect_error()] * 3)

    with pytest.raises(
        LabelStudioApiError, match=r"GET /health: no answer: ConnectError from http://label-st"
    ):
        hook.health()
    assert len(sent) == 3


def test_a_post_is_not_resent_when_the_server_may_have_acted_on_it(monkeypatch):
    hook, sent = scripted_hook(monkeypatch, [failure(502)])

    with pytest.raises(LabelStudioApiError, match=r"POST /api/projects/3/import: HTTP 502"):
        hook.import_tasks(3, [{"data": {"image": "s3://b/k.jpg"}}])
    assert len(sent) == 1


def test_a_post_is_not_resent_after_a_read_timeout(monkeypatch):
    hook, sent = scripted_hook(monkeypatch, [httpx.ReadTimeout("slow")])

    with pytest.raises(LabelStudioApiError, match=r"POST /api/tasks/4/annotations: no answer: ReadTimeout"):
        hook.create_annotation(4, [])
    assert len(sent) == 1


def test_a_post_is_resent_when_it_surely_was_not_processed(monkeypatch):
    hook, sent = scripted_hook(
        monkeypatch, [connect_error(), failure(503), failure(429), ok({"task_ids": [1, 2]})]
    )
    hook.max_attempts = 4

    assert hook.import_tasks(3, [{"data": {}}, {"data": {}}]) == [1, 2]
    assert len(sent) == 4
    assert sent[-1].url.params["return_task_ids"] == "true"


def test_other_client_errors_are_not_retried(monkeypatch):
    hook, sent = scripted_hook(monkeypatch, [failure(400, '{"validation_errors": {"title": ["too short"]}}')])

    with pytest.raises(LabelStudioApiError, match=r"POST /api/projects: HTTP 400: .*too short"):
        hook.create_project(title="p")
    assert len(sent) == 1


def test_a_legacy_token_is_sent_as_token(monkeypatch):
    hook, sent = scripted_hook(monkeypatch, [ok({"email": "a@b.c"})])

    hook.whoami()

    assert sent[0].headers["Authorization"] == "Token legacy-token"


def test_a_personal_access_token_is_sent_as_a_bearer_access_token(monkeypatch):
    refresh = _jwt({"token_type": "refresh", "exp": 9_000_000_000, "iat": 1})
    access = _jwt({"token_type": "access", "exp": 1300, "iat": 1000})
    hook, sent = scripted_hook(monkeypatch, [ok({"access": access}), ok({}), ok({})], token=refresh)

    hook.whoami()
    hook.whoami()

    assert [request.url.path for request in sent] == [
        "/api/token/refresh",
        "/api/current-user/whoami",
        "/api/current-user/whoami",
    ]
    assert json.loads(sent[0].content) == {"refresh": refresh}
    assert "Authorization" not in sent[0].headers
    assert sent[1].headers["Authorization"] == f"Bearer {access}"


def test_an_empty_password_names_the_connection(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_LABEL_STUDIO_EMPTY", json.dumps({"conn_type": "http", "host": BASE_URL}))

    with pytest.raises(ValueError, match=r"Connection 'label_studio_empty' has no password"):
        LabelStudioHook("label_studio_empty").whoami()


@pytest.mark.parametrize(
    ("fields", "base_url"),
    [
        ({"host": "http://ls.example:8080/"}, "http://ls.example:8080"),
        ({"host": "https://ls.example/labeling"}, "https://ls.example/labeling"),
        ({"host": "ls.example", "port": 8080}, "http://ls.example:8080"),
        ({"host": "ls.example", "schema": "https"}, "https://ls.example"),
    ],
)
def test_base_url_from_the_connection_fields(monkeypatch, fields, base_url):
    connection = {"conn_type": "http", "password": "legacy-token", **fields}
    monkeypatch.setenv("AIRFLOW_CONN_LABEL_STUDIO_DEFAULT", json.dumps(connection))

    assert LabelStudioHook().base_url == base_url


def _jwt(claims: dict) -> str:
    def encode(part: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()

    return f"{encode({'alg': 'HS256', 'typ': 'JWT'})}.{encode(claims)}.c2lnbmF0dXJl"
