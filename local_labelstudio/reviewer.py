"""A scripted reviewer for Label Studio: people answering tasks through the REST API, as they would
in the labeling UI, so that demos and end-to-end tests run unattended against a real Label Studio.

Each reviewer is a user of their own, who joins the organization through its invite link (as a
new team member does) and works with their own token. On a task they look at the image (following
Label Studio's link for `$image` to the presigned S3 URL, as a browser does), start from the
model's prediction shown on it and submit what the image's embedded ground truth says: a
predicted box over an object is moved onto it, a predicted box over nothing is deleted, a missed
object is drawn. The first reviewer draws the truth exactly; the others wobble each edge by up to
2 px. A reviewer may be told to skip some images instead.

``python -m local_labelstudio.reviewer --url URL --token ADMIN_TOKEN [--workers N] [--skip NAME]
[--project ID] [--delay S] [--once]``
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import random
import secrets
import signal
import string
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from PIL import Image

from local_aws.actors.samples import read_truth
from local_aws.actors.scripted_reviewer import _wobbled

log = logging.getLogger(__name__)

REVIEWER_EMAIL = "reviewer-{number}@example.com"
REVIEWER_PASSWORD = "local-reviewer-password"
_HTTP_TIMEOUT = 30
_MATCH_IOU = 0.3  # a predicted box over an object: the reviewer moves it rather than redraws it
_REGION_TYPE = "rectanglelabels"


@dataclass(frozen=True)
class Reviewer:
    """A Label Studio user and the client that works as them."""

    number: int  # 1, 2, ...: the first draws the truth exactly
    email: str
    user_id: int
    client: httpx.Client


def join(url: str, admin_token: str, email: str, password: str = REVIEWER_PASSWORD) -> tuple[str, int]:
    """Sign `email` up through the organization's invite link (or log in, when they already have),
    as a new team member does in the browser; returns their legacy API token and user id."""
    with httpx.Client(base_url=url, timeout=_HTTP_TIMEOUT) as admin:
        admin.headers["Authorization"] = f"Token {admin_token}"
        invite = admin.get("/api/invite")
        invite.raise_for_status()
        users = admin.get("/api/users")
        users.raise_for_status()
    invite_url = invite.json()["invite_url"]
    exists = any(user["email"] == email for user in users.json())
    with httpx.Client(base_url=url, timeout=_HTTP_TIMEOUT) as browser:
        form = "/user/login/" if exists else invite_url
        browser.get(form).raise_for_status()
        csrf = browser.cookies["csrftoken"]
        path = "/user/login/" if exists else invite_url
        answer = browser.post(
            path,
            data={"email": email, "password": password, "csrfmiddlewaretoken": csrf},
            headers={"Referer": f"{url}{form}"},
        )
        if answer.status_code != httpx.codes.FOUND:  # a form shown again: refused
            action = f"log {email} in (another password?)" if exists else f"sign {email} up"
            raise RuntimeError(
                f"Label Studio did not {action}: it showed its form again (HTTP {answer.status_code})"
            )
        me = browser.get("/api/current-user/whoami")
        me.raise_for_status()
        token = browser.get("/api/current-user/token")
        token.raise_for_status()
    return token.json()["token"], me.json()["id"]


class ScriptedLabelStudioReviewer:
    """Answers every pending task of Label Studio (or of one project) as up to `workers` reviewers.

    `skip`: file names of images to skip (`street-05.jpg`), or a function of the task that says so.
    `delay_seconds`: how old a task must be before anyone opens it.
    """

    def __init__(
        self,
        url: str,
        admin_token: str,
        *,
        workers: int = 1,
        project_id: int | None = None,
        skip: Collection[str] | Callable[[dict[str, Any]], bool] = (),
        delay_seconds: float = 0.0,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers {workers} is below 1")
        self.url = url.rstrip("/")
        self.admin = httpx.Client(
            base_url=self.url, timeout=_HTTP_TIMEOUT, headers={"Authorization": f"Token {admin_token}"}
        )
        self.admin_token = admin_token
        self.workers = workers
        self.project_id = project_id
        self.skip = skip if callable(skip) else _by_file_name(frozenset(skip))
        self.delay_seconds = delay_seconds
        self._reviewers: list[Reviewer] = []

    @property
    def reviewers(self) -> list[Reviewer]:
        """The reviewers, who join Label Studio the first time they are needed."""
        while len(self._reviewers) < self.workers:
            number = len(self._reviewers) + 1
            email = REVIEWER_EMAIL.format(number=number)
            token, user_id = join(self.url, self.admin_token, email)
            client = httpx.Client(
                base_url=self.url, timeout=_HTTP_TIMEOUT, headers={"Authorization": f"Token {token}"}
            )
            self._reviewers.append(Reviewer(number, email, user_id, client))
        return self._reviewers

    def poll_once(self) -> int:
        """Answer (or skip) every task that is old enough and still needs answers; returns how many
        annotations were submitted."""
        submitted = 0
        now = datetime.now(UTC)
        for project in self._projects():
            required = project["maximum_annotations"]
            for task in self._tasks(project["id"]):
                if task["cancelled_annotations"] or task["total_annotations"] >= required:
                    continue
                age = (
                    now - datetime.fromisoformat(task["created_at"].replace("Z", "+00:00"))
                ).total_seconds()
                if age < self.delay_seconds:
                    continue
                submitted += self._answer(project, task, required)
        return submitted

    def run(self, stop_event: threading.Event, poll_seconds: float = 0.5) -> None:
        """Poll until `stop_event` is set; a failing poll is logged and tried again."""
        while not stop_event.is_set():
            try:
                self.poll_once()
            except (httpx.HTTPError, RuntimeError) as error:
                log.warning("Reviewing in %s failed, trying again: %s", self.url, error)
            stop_event.wait(poll_seconds)

    def _projects(self) -> list[dict[str, Any]]:
        if self.project_id is not None:
            return [self._get(self.admin, f"/api/projects/{self.project_id}")]
        return self._get(self.admin, "/api/projects", params={"page_size": 100})["results"]

    def _tasks(self, project_id: int) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            answer = self.admin.get(
                "/api/tasks", params={"project": project_id, "fields": "all", "page": page, "page_size": 100}
            )
            if answer.status_code == httpx.codes.NOT_FOUND:  # past the last page
                return
            answer.raise_for_status()
            tasks = answer.json()["tasks"]
            yield from tasks
            if not tasks or page * 100 >= answer.json()["total"]:
                return
            page += 1

    def _answer(self, project: dict[str, Any], listed: dict[str, Any], required: int) -> int:
        done_by = {_user_id(annotation) for annotation in listed["annotations"]}
        still_needed = required - listed["total_annotations"]
        submitted = 0
        for reviewer in self.reviewers[:required]:
            if submitted >= still_needed:
                break
            if reviewer.user_id in done_by:
                continue
            # What the reviewer's browser loads: the task as they see it, then its image.
            task = self._get(reviewer.client, f"/api/tasks/{listed['id']}")
            if self.skip(task):
                self._post(
                    reviewer.client,
                    f"/api/tasks/{task['id']}/annotations",
                    {"result": [], "was_cancelled": True},
                )
                log.info("%s skipped task %s (%s)", reviewer.email, task["id"], task["data"].get("image_key"))
                return submitted
            image = reviewer.client.get(task["data"]["image"], follow_redirects=True)
            image.raise_for_status()
            result = review(project, task, image.content, reviewer.number - 1)
            self._post(
                reviewer.client,
                f"/api/tasks/{task['id']}/annotations",
                {"result": result, "lead_time": 4 + 3 * len(result), "was_cancelled": False},
            )
            submitted += 1
            log.info("%s answered task %s with %d boxes", reviewer.email, task["id"], len(result))
        return submitted

    def _get(self, client: httpx.Client, path: str, **kwargs: Any) -> Any:
        answer = client.get(path, **kwargs)
        answer.raise_for_status()
        return answer.json()

    def _post(self, client: httpx.Client, path: str, body: dict[str, Any]) -> Any:
        answer = client.post(path, json=body)
        answer.raise_for_status()
        return answer.json()


def review(
    project: dict[str, Any], task: dict[str, Any], image_bytes: bytes, worker_index: int
) -> list[dict]:
    """The result a reviewer submits: the prediction's boxes moved onto the true objects, those over
    nothing deleted, the missed objects drawn, in percent of the image as loaded."""
    with Image.open(io.BytesIO(image_bytes)) as image:
        width, height = image.size
    control, image_name, labels = _rectangle_control(project["label_config"])
    predicted = [
        region
        for prediction in task.get("predictions", [])
        if prediction.get("model_version") == project.get("model_version")
        for region in prediction.get("result", [])
        if region.get("type") == _REGION_TYPE
    ]
    truth = read_truth(image_bytes)
    if truth is None:  # nothing to go by: accept what the model drew
        return [
            _region(control, image_name, region["value"], width, height, region.get("id"))
            for region in predicted
        ]
    rng = random.Random(hashlib.sha256(image_bytes + f"/worker-{worker_index}".encode()).digest())
    wanted = [
        _wobbled(t, rng, width, height)
        if worker_index
        else {key: t[key] for key in ("label", "left", "top", "width", "height")}
        for t in truth
        if t["label"] in labels
    ]
    boxes = [_pixels(region["value"], width, height) for region in predicted]
    pairs = _match(boxes, wanted)
    result = []
    for j, box in enumerate(wanted):
        i = pairs.get(j)
        region_id = predicted[i].get("id") if i is not None else None
        result.append(_region(control, image_name, _percent(box, width, height), width, height, region_id))
    return result


def _rectangle_control(label_config: str) -> tuple[str, str, list[str]]:
    """The RectangleLabels control's name, the image it draws on, and its labels."""
    root = ElementTree.fromstring(label_config)
    control = next(root.iter("RectangleLabels"))
    return control.get("name"), control.get("toName"), [label.get("value") for label in control.iter("Label")]


def _region(
    control: str, image: str, value: dict[str, Any], width: int, height: int, region_id: str | None
) -> dict[str, Any]:
    return {
        "id": region_id or "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(10)),
        "from_name": control,
        "to_name": image,
        "type": _REGION_TYPE,
        "origin": "manual",
        "original_width": width,
        "original_height": height,
        "image_rotation": 0,
        "value": {key: value[key] for key in ("x", "y", "width", "height")}
        | {"rotation": 0, _REGION_TYPE: list(value[_REGION_TYPE])},
    }


def _percent(box: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    return {
        "x": 100 * box["left"] / width,
        "y": 100 * box["top"] / height,
        "width": 100 * box["width"] / width,
        "height": 100 * box["height"] / height,
        _REGION_TYPE: [box["label"]],
    }


def _pixels(value: dict[str, Any], width: int, height: int) -> dict[str, Any]:
    return {
        "label": value[_REGION_TYPE][0],
        "left": value["x"] * width / 100,
        "top": value["y"] * height / 100,
        "width": value["width"] * width / 100,
        "height": value["height"] * height / 100,
    }


def _match(predicted: Sequence[dict], wanted: Sequence[dict]) -> dict[int, int]:
    """Wanted box index -> predicted box index, same label, greedily by IoU (at least _MATCH_IOU)."""
    candidates = sorted(
        (-_iou(p, w), i, j)
        for i, p in enumerate(predicted)
        for j, w in enumerate(wanted)
        if p["label"] == w["label"] and _iou(p, w) >= _MATCH_IOU
    )
    pairs: dict[int, int] = {}
    used: set[int] = set()
    for _, i, j in candidates:
        if i not in used and j not in pairs:
            pairs[j] = i
            used.add(i)
    return pairs


def _iou(a: dict, b: dict) -> float:
    width = min(a["left"] + a["width"], b["left"] + b["width"]) - max(a["left"], b["left"])
    height = min(a["top"] + a["height"], b["top"] + b["height"]) - max(a["top"], b["top"])
    if width <= 0 or height <= 0:
        return 0.0
    overlap = width * height
    return overlap / (a["width"] * a["height"] + b["width"] * b["height"] - overlap)


def _user_id(annotation: dict[str, Any]) -> int:
    user = annotation["completed_by"]
    return user["id"] if isinstance(user, dict) else user


def _by_file_name(names: frozenset[str]) -> Callable[[dict[str, Any]], bool]:
    def skip(task: dict[str, Any]) -> bool:
        key = task["data"].get("image_key") or ""
        return key.rsplit("/", 1)[-1] in names

    return skip


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m local_labelstudio.reviewer",
        description="Answer pending Label Studio tasks from the truth embedded in their images.",
    )
    parser.add_argument("--url", required=True, help="Label Studio's base URL")
    parser.add_argument("--token", required=True, help="the admin's legacy API token (to invite reviewers)")
    parser.add_argument(
        "--workers", type=int, default=1, help="distinct reviewers answering each task (default 1)"
    )
    parser.add_argument("--project", type=int, help="only this project (default: every project)")
    parser.add_argument(
        "--skip", action="append", default=[], help="skip the image of this file name (repeatable)"
    )
    parser.add_argument("--delay", type=float, default=0.0, help="seconds a task waits before it is opened")
    parser.add_argument("--poll-seconds", type=float, default=0.5, help="seconds between polls (default 0.5)")
    parser.add_argument("--once", action="store_true", help="answer what is pending now, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    reviewer = ScriptedLabelStudioReviewer(
        args.url,
        args.token,
        workers=args.workers,
        project_id=args.project,
        skip=args.skip,
        delay_seconds=args.delay,
    )
    if args.once:
        print(f"submitted {reviewer.poll_once()} annotations")
        return
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    reviewer.run(stop, args.poll_seconds)


if __name__ == "__main__":
    main()
