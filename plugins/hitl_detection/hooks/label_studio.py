"""Label Studio's REST API, for the self-hosted review backend (AWS closed A2I to new customers).

Plain httpx rather than label-studio-sdk: the SDK pins packages that clash with Airflow's and pulls
in opencv, nltk and pandas for the dozen calls a review backend makes.
"""

from __future__ import annotations

import base64
import json
import random
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cached_property
from typing import Any
from urllib.parse import quote

import httpx
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowException

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 8.0  # at most 0.5 + 1 + 2 + 4 + 8 s (jittered) of waits before a call fails
# Answers that say "try again later": throttled, or a proxy in front of Label Studio without it.
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
# A POST creates something (tasks, annotations, projects): it is sent again only when the server
# surely did not act on it, so a retry never imports a task or records an annotation twice.
UNPROCESSED_STATUSES = frozenset({429, 503})
UNSENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# An access token is renewed once this share of its lifetime (5 minutes in Label Studio) has passed.
ACCESS_TOKEN_RENEW_AFTER = 0.8
ERROR_BODY_CHARS = 300
# Storage fields that Label Studio needs but that must never be shown: an error may echo the request.
SECRET_FIELDS = ("aws_secret_access_key", "aws_session_token")
PRESIGNED_SIGNATURE = re.compile(r"(Signature=)[^&\s\"'\\]+")  # also X-Amz-Signature= (SigV4)
REDACTED = "***"


class LabelStudioApiError(AirflowException):
    """A call that failed for good; `status` is None when no answer came at all."""

    def __init__(self, method: str, path: str, status: int | None, detail: str) -> None:
        self.method = method
        self.path = path
        self.status = status
        answer = f"HTTP {status}" if status is not None else "no answer"
        super().__init__(f"Label Studio {method} {path}: {answer}: {detail}")


class LabelStudioHook(BaseHook):
    """Projects, import storages, tasks and annotations of one Label Studio.

    The connection (http) holds the base URL as host (a full URL, or a host name with schema and port
    in their fields) and an API token as password: a legacy token (sent as `Token`), or a personal
    access token, a JWT refresh token that is exchanged for short-lived `Bearer` access tokens.
    """

    conn_name_attr = "label_studio_conn_id"
    default_conn_name = "label_studio_default"
    conn_type = "http"
    hook_name = "Label Studio"

    def __init__(
        self,
        label_studio_conn_id: str = default_conn_name,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> None:
        super().__init__()
        if max_attempts < 1:
            raise ValueError(f"max_attempts {max_attempts} is below 1")
        self.label_studio_conn_id = label_studio_conn_id
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._access_token: str | None = None
        self._access_token_renew_at = 0.0
        self._sent_secrets: set[str] = set()

    # Connection

    @cached_property
    def _settings(self) -> tuple[str, str]:
        """The base URL and the API token, read from the connection once."""
        conn = self.get_connection(self.label_studio_conn_id)
        if not conn.host:
            raise ValueError(
                f"Connection {self.label_studio_conn_id!r} has no host (Label Studio's base URL)"
            )
        if not conn.password:
            raise ValueError(
                f"Connection {self.label_studio_conn_id!r} has no password (a Label Studio API token)"
            )
        base_url = conn.host if "://" in conn.host else f"{conn.schema or 'http'}://{conn.host}"
        if conn.port:
            base_url = f"{base_url}:{conn.port}"
        return base_url.rstrip("/"), conn.password

    @property
    def base_url(self) -> str:
        return self._settings[0]

    @cached_property
    def _refresh_token(self) -> str | None:
        """The token when it is a personal access token (a JWT refresh token), else None (legacy)."""
        token = self._settings[1]
        return token if _jwt_claims(token).get("token_type") == "refresh" else None

    @cached_property
    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=self.timeout)

    def get_conn(self) -> httpx.Client:
        return self.client

    # Server and user

    def health(self) -> bool:
        """Whether the server answers its unauthenticated health check with "UP"."""
        return self._call("GET", "/health", authenticated=False).get("status") == "UP"

    def whoami(self) -> dict[str, Any]:
        """The token's user: checks the token as well as the URL."""
        return self._call("GET", "/api/current-user/whoami")

    # Projects

    def get_project(self, project_id: int) -> dict[str, Any]:
        return self._call("GET", f"/api/projects/{project_id}")

    def create_project(self, **fields: Any) -> dict[str, Any]:
        """A new project from `title`, `label_config`, `model_version`, `maximum_annotations`, ..."""
        return self._call("POST", "/api/projects", json=fields)

    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        return self._call("PATCH", f"/api/projects/{project_id}", json=fields)

    def list_projects(self, title: str | None = None) -> list[dict[str, Any]]:
        """Every project, or those titled exactly `title` (the server's own filter is a substring match)."""
        params = {} if title is None else {"title": title}
        projects: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self._call("GET", "/api/projects", params={**params, "page": page, "page_size": 100})
            projects.extend(answer["results"])
            if not answer["next"]:
                break
            page += 1
        return projects if title is None else [project for project in projects if project["title"] == title]

    # Import storages

    def create_s3_import_storage(self, project_id: int, **fields: Any) -> dict[str, Any]:
        """An S3 source storage, so that task data may hold `s3://` URIs, presigned when a task opens.

        `fields`: `bucket`, `prefix`, `presign`, `presign_ttl` (minutes), `region_name`,
        `aws_access_key_id`, `aws_secret_access_key`, `s3_endpoint` (an S3-compatible server), `title`.
        Label Studio checks that it can reach the bucket before it answers.
        """
        self._sent_secrets.update(fields[name] for name in SECRET_FIELDS if fields.get(name))
        return self._call("POST", "/api/storages/s3", json={**fields, "project": project_id})

    def list_import_storages(self, project_id: int) -> list[dict[str, Any]]:
        """The project's source storages of every type; `type` says which (`s3`, `gcs`, ...)."""
        return self._call("GET", "/api/storages", params={"project": project_id})

    # Tasks

    def import_tasks(self, project_id: int, tasks: Sequence[Mapping[str, Any]]) -> list[int]:
        """Create tasks (`{data, predictions?}`) in one synchronous import; their ids in input order."""
        answer = self._call(
            "POST", f"/api/projects/{project_id}/import", params={"return_task_ids": "true"}, json=list(tasks)
        )
        return answer["task_ids"]

    def iter_tasks(
        self,
        project_id: int,
        *,
        filters: Mapping[str, str] | None = None,
        page_size: int = 100,
        with_annotations: bool = True,
        resolve_uri: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """The project's tasks in id order, one page per call: with their annotations and predictions,
        or (`with_annotations=False`) only their data and counters, which is lighter.

        `filters` maps data fields to exact values (`{"image_key": "in/a.jpg"}`); all must match.
        With `resolve_uri` (Label Studio's default), storage URIs in the data (`s3://...`) come as the
        links a browser follows; without, as they were imported.
        """
        params: dict[str, Any] = {
            "project": project_id,
            "fields": "all" if with_annotations else "task_only",
            "page_size": page_size,
            "resolve_uri": "true" if resolve_uri else "false",
        }
        if filters:
            params["query"] = json.dumps({"filters": _data_filters(filters)})
        seen = 0
        page = 1
        while True:
            page_params = {**params, "page": page}
            response = self._request("GET", "/api/tasks", params=page_params, missing_ok=page > 1)
            # A page past the end is a 404 ("Invalid page."): tasks were deleted since the last page.
            if response.status_code == httpx.codes.NOT_FOUND:
                return
            answer = response.json()
            if not answer["tasks"]:
                return
            yield from answer["tasks"]
            seen += len(answer["tasks"])
            if seen >= answer["total"]:
                return
            page += 1

    def get_task(self, task_id: int) -> dict[str, Any] | None:
        """The task with its annotations and predictions, or None when it does not exist."""
        response = self._request("GET", f"/api/tasks/{task_id}", missing_ok=True)
        return None if response.status_code == httpx.codes.NOT_FOUND else response.json()

    def delete_task(self, task_id: int) -> bool:
        """Delete the task and its annotations; False when it was already gone."""
        response = self._request("DELETE", f"/api/tasks/{task_id}", missing_ok=True)
        return response.status_code != httpx.codes.NOT_FOUND

    # Annotations

    def create_annotation(
        self, task_id: int, result: Sequence[Mapping[str, Any]], **fields: Any
    ) -> dict[str, Any]:
        """Submit an annotation as the token's user would from the labeling UI (`lead_time`, ...)."""
        return self._call(
            "POST", f"/api/tasks/{task_id}/annotations", json={**fields, "result": list(result)}
        )

    def skip_task(self, task_id: int, **fields: Any) -> dict[str, Any]:
        """Skip the task as a reviewer does with the UI's Skip button: an empty annotation with
        `was_cancelled` set, which counts as the reviewer's answer but not as a submitted one."""
        return self.create_annotation(task_id, [], **fields, was_cancelled=True)

    # Transport

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of a call that must succeed."""
        return self._request(method, path, **kwargs).json()

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        authenticated: bool = True,
        missing_ok: bool = False,
    ) -> httpx.Response:
        """The answer to a call, a 404 included when `missing_ok`; raises for any other error."""
        response = self._send(method, path, params=params, json=json, authenticated=authenticated)
        if response.status_code == httpx.codes.UNAUTHORIZED and authenticated and self._refresh_token:
            # Rejected before its time: the server restarted with another key, or the clocks disagree.
            self._access_token = None
            response = self._send(method, path, params=params, json=json, authenticated=True)
        if response.is_error and not (missing_ok and response.status_code == httpx.codes.NOT_FOUND):
            raise self._api_error(method, path, response)
        return response

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        authenticated: bool = False,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send the request, again after transient failures with capped exponential backoff."""
        if idempotent is None:
            idempotent = method != "POST"
        retryable = RETRYABLE_STATUSES if idempotent else UNPROCESSED_STATUSES
        headers = {"Authorization": self._authorization()} if authenticated else None
        attempt = 1
        while True:
            final = attempt == self.max_attempts
            try:
                response = self.client.request(method, path, params=params, json=json, headers=headers)
            except httpx.TransportError as error:
                if final or not (idempotent or isinstance(error, UNSENT_ERRORS)):
                    detail = self._redacted(f"{type(error).__name__} from {self.base_url}: {error}")
                    raise LabelStudioApiError(method, path, None, detail) from error
                reason = type(error).__name__
                delay = _backoff(attempt)
            else:
                if final or response.status_code not in retryable:
                    return response
                reason = f"HTTP {response.status_code}"
                delay = _backoff(attempt, response.headers.get("Retry-After"))
            self.log.warning(
                "Label Studio %s %s: %s (try %d of %d), again in %.1fs",
                method,
                path,
                reason,
                attempt,
                self.max_attempts,
                delay,
            )
            time.sleep(delay)
            attempt += 1

    def _authorization(self) -> str:
        if self._refresh_token is None:
            return f"Token {self._settings[1]}"
        if self._access_token is None or time.monotonic() >= self._access_token_renew_at:
            self._renew_access_token()
        return f"Bearer {self._access_token}"

    def _renew_access_token(self) -> None:
        """Exchange the personal access token for an access token (Label Studio's last 5 minutes)."""
        path = "/api/token/refresh"
        # Refreshing changes nothing on the server (no rotation), so it is safe to resend.
        response = self._send("POST", path, json={"refresh": self._refresh_token}, idempotent=True)
        if response.is_error:
            raise self._api_error("POST", path, response)
        access = response.json()["access"]
        claims = _jwt_claims(access)
        lifetime = claims.get("exp", 0) - claims.get("iat", 0)
        self._access_token = access
        self._access_token_renew_at = time.monotonic() + ACCESS_TOKEN_RENEW_AFTER * max(lifetime, 0)

    def _api_error(self, method: str, path: str, response: httpx.Response) -> LabelStudioApiError:
        body = self._redacted(" ".join(response.text.split()))  # before it is cut: no half secret is left
        detail = body[:ERROR_BODY_CHARS] + ("..." if len(body) > ERROR_BODY_CHARS else "")
        if response.status_code == httpx.codes.UNAUTHORIZED:
            kind = "personal access token" if self._refresh_token else "legacy token"
            detail += f" (the {kind} in connection {self.label_studio_conn_id!r} was refused)"
        return LabelStudioApiError(method, path, response.status_code, detail or "(empty body)")

    def _redacted(self, text: str) -> str:
        """`text` without the secrets this hook sends: its tokens and the storages' keys."""
        secrets = {self._settings[1], self._access_token, *self._sent_secrets}
        return _redact(text, (secret for secret in secrets if secret))


def _redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret (as sent, or URL-encoded) and every presigned URL's signature
    replaced by ***: an error answer may echo the request, or the link it could not follow."""
    for secret in sorted(secrets, key=len, reverse=True):  # a secret inside a longer one goes last
        text = text.replace(secret, REDACTED).replace(quote(secret, safe=""), REDACTED)
    return PRESIGNED_SIGNATURE.sub(rf"\g<1>{REDACTED}", text)


def _data_filters(values: Mapping[str, str]) -> dict[str, Any]:
    """The Data Manager filter matching tasks whose data fields equal `values`."""
    items = [
        {"filter": f"filter:tasks:data.{field}", "operator": "equal", "type": "String", "value": value}
        for field, value in values.items()
    ]
    return {"conjunction": "and", "items": items}


def _jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (the server verifies it), or {} when `token` is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:  # not base64, not UTF-8 or not JSON
        return {}
    return claims if isinstance(claims, dict) else {}


def _backoff(attempt: int, retry_after: str | None = None) -> float:
    """Seconds to wait after failed try `attempt`: the server's Retry-After, or jittered doubling."""
    if retry_after is not None and retry_after.isdigit():
        return min(float(retry_after), BACKOFF_CAP_SECONDS)
    return min(BACKOFF_BASE_SECONDS * 2 ** (attempt - 1), BACKOFF_CAP_SECONDS) * random.uniform(0.5, 1.0)
