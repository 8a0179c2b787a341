"""Review in a self-hosted Label Studio: one task per image in one project, for teams without A2I.

Every task carries the run and the image key in its data, so one filtered sweep of the project
(100 tasks a call) tells how far a run is, and finds the tasks an earlier try imported: the first
`start` of a backend reads the run's tasks once, and a retry or a cleared run reuses them instead
of importing an image twice. New tasks are imported in batches: the pipeline starts reviews
`parallel_calls` at a time, and the calls waiting together go out as one import. The ticket's
handle is the task id; a task deleted in Label Studio is missing from the sweep, and `deleted`
confirms it by id, as for A2I loops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any, Generic, TypeVar

import httpx

from hitl_detection.domain.label_studio_answers import (
    PENDING,
    SKIPPED,
    AnnotationFormatError,
    parse_answers,
    review_state,
    skipped_by,
)
from hitl_detection.domain.label_studio_config import LabelingConfig, parse_labeling_config, project_problems
from hitl_detection.domain.label_studio_task import (
    IMAGE_KEY_FIELD,
    NAME_FIELD,
    RUN_FIELD,
    build_task,
)
from hitl_detection.domain.naming import human_loop_name
from hitl_detection.domain.review_tasks import ReviewOutcome, ReviewProgress, ReviewRequest, ReviewTicket
from hitl_detection.domain.run_config import RunConfig
from hitl_detection.hooks.label_studio import LabelStudioApiError, LabelStudioHook
from hitl_detection.review.base import Connections, ReviewBackend, ReviewSetupError

log = logging.getLogger(__name__)

PENDING_SAMPLE_SIZE = 50  # pending task names kept for messages; the count is exact regardless
# How long a start waits for others to share its import; the batch goes out at once when full.
IMPORT_LINGER_SECONDS = 0.2

Item = TypeVar("Item")
Result = TypeVar("Result")


class LabelStudioReviewBackend(ReviewBackend):
    """Tasks in the project `project_id`; answers read from each task's annotations."""

    name = "labelstudio"
    # Calls at once when tasks are started or collected; also the most tasks one import carries.
    parallel_calls = 16

    def __init__(self, settings: Mapping[str, Any], connections: Connections) -> None:
        project_id = settings.get("project_id")
        if isinstance(project_id, bool) or not isinstance(project_id, int) or project_id < 1:
            raise ValueError(
                f"the labelstudio review backend needs a label_studio_project_id (an integer >= 1); "
                f"got {project_id!r}"
            )
        self.project_id: int = project_id
        self.image_bucket: str | None = settings.get("image_bucket")
        self.connections = connections
        self._known_lock = threading.Lock()
        self._known: dict[str, dict[str, tuple[int, str]]] = {}  # run -> image key -> (task id, image)
        self._imports: _Batcher[dict[str, Any], int] = _Batcher(
            self._import, size=self.parallel_calls, linger_seconds=IMPORT_LINGER_SECONDS
        )

    @classmethod
    def settings_from(cls, config: RunConfig) -> dict[str, Any]:
        return {"project_id": config.label_studio_project_id, "image_bucket": config.input_bucket}

    @cached_property
    def hook(self) -> LabelStudioHook:
        return LabelStudioHook(self.connections.label_studio_conn_id)

    @cached_property
    def project(self) -> dict[str, Any]:
        """The project as this task first read it (labeling config, model version, annotations)."""
        return self.hook.get_project(self.project_id)

    @cached_property
    def labeling(self) -> LabelingConfig:
        return parse_labeling_config(self.project["label_config"])

    def check(self, labels: Sequence[str]) -> None:
        """The project must exist, offer exactly the run's labels over `$image`, show predictions,
        and have an S3 storage of the image bucket (else reviewers would see no image)."""
        where = f"label_studio_project_id {self.project_id}"
        try:
            project = self.hook.get_project(self.project_id)
            storages = self.hook.list_import_storages(self.project_id) if self.image_bucket else None
        except LabelStudioApiError as error:
            if error.status == httpx.codes.NOT_FOUND:
                raise ReviewSetupError(
                    f"{where}: no such project in the Label Studio at {self.hook.base_url} (connection "
                    f"{self.connections.label_studio_conn_id}); run review_workflow_setup with "
                    "review_backend labelstudio to make one"
                ) from error
            if error.status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
                raise ReviewSetupError(f"{where}: {error}") from error
            raise
        problems = project_problems(project, labels, storages, self.image_bucket)
        if problems:
            raise ReviewSetupError(
                f"{where} ({project.get('title')!r} at {self.hook.base_url}) cannot take this run's reviews: "
                + "; ".join(problems)
            )

    def start(self, request: ReviewRequest) -> ReviewTicket:
        """Reuse the run's task of the image if one exists, else import it (batched with others)."""
        name = human_loop_name(request.run_key, request.image_key)
        found = self._tasks_of(request.run_key).get(request.image_key)
        if found is not None:
            task_id, image = found
            if image != request.image_s3_uri:
                raise ValueError(
                    f"Label Studio task {task_id} of run {request.run_key!r} and image key "
                    f"{request.image_key!r} shows {image}, not {request.image_s3_uri}"
                )
            log.info("Label Studio task %s (%s) exists from an earlier try; reusing it.", task_id, name)
            return ReviewTicket(name, str(task_id), reused=True)
        model_version = self.project.get("model_version")
        if not model_version:
            raise ReviewSetupError(
                f"label_studio_project_id {self.project_id} has no model_version: reviewers would not see "
                "the model's boxes"
            )
        task = build_task(request, name=name, config=self.labeling, model_version=model_version)
        task_id = self._imports.submit(task)
        with self._known_lock:
            self._known[request.run_key][request.image_key] = (task_id, request.image_s3_uri)
        return ReviewTicket(name, str(task_id))

    def progress_scope(self, run_key: str, started_after: datetime) -> dict[str, Any]:
        """Tasks are found by the run they carry; when they were made does not matter."""
        return {"project_id": self.project_id, "run": run_key}

    def console_url(self, scope: Mapping[str, Any]) -> str:
        """The project's data manager in Label Studio: its tasks, this run's among them."""
        return f"{self.hook.base_url}/projects/{scope['project_id']}/data"

    def progress(self, scope: Mapping[str, Any], expected: int) -> ReviewProgress:
        """One sweep of the run's tasks (their counters only), against the project's number of
        annotations per task, read anew: a reviewer count raised meanwhile is waited for."""
        required = self.hook.get_project(scope["project_id"])["maximum_annotations"]
        listed = finished = 0
        failed: list[str] = []
        pending: list[str] = []
        for task in self._run_tasks(scope):
            listed += 1
            name = task["data"].get(NAME_FIELD) or f"task {task['id']}"
            state = review_state(task, required)
            if state == PENDING:
                if len(pending) < PENDING_SAMPLE_SIZE:
                    pending.append(name)
                continue
            finished += 1
            if state == SKIPPED:
                failed.append(name)
        return ReviewProgress(
            expected=expected, finished=finished, failed=tuple(failed), pending=tuple(pending), listed=listed
        )

    def deleted(self, scope: Mapping[str, Any], tickets: Iterable[ReviewTicket]) -> list[str]:
        """One sweep, then a read by id of each ticket's task the sweep did not list."""
        listed = {str(task["id"]) for task in self._run_tasks(scope)}
        gone = []
        for ticket in tickets:
            if ticket.handle in listed:
                continue
            task = self.hook.get_task(int(ticket.handle)) if ticket.handle else None
            # A task id Label Studio gave again to another task is as gone as a missing one.
            if task is None or (task.get("data") or {}).get(NAME_FIELD) != ticket.name:
                gone.append(ticket.name)
        return gone

    def _run_tasks(self, scope: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The run's tasks in the project (their counters only): one filtered, paginated sweep."""
        run = scope["run"]
        sweep = self.hook.iter_tasks(
            scope["project_id"], filters={RUN_FIELD: run}, with_annotations=False, resolve_uri=False
        )
        return (task for task in sweep if (task.get("data") or {}).get(RUN_FIELD) == run)

    def is_transient(self, error: BaseException) -> bool:
        """No answer at all, throttling, or a server error (an outage, a proxy in front of it)."""
        if isinstance(error, LabelStudioApiError):
            return (
                error.status is None or error.status == httpx.codes.TOO_MANY_REQUESTS or error.status >= 500
            )
        return isinstance(error, httpx.TransportError)

    def end_open(self, ticket: ReviewTicket) -> str:
        """Label Studio has no way to close a task, and does not bill for one: it is left."""
        return (
            f"review task {ticket.name} stays open in Label Studio project {self.project_id}; "
            "an answer given to it now is not in this run's results"
        )

    def collect(self, ticket: ReviewTicket) -> ReviewOutcome:
        """Read the task once, with its annotations: every submitted one is a reviewer's answer.

        A deleted, skipped or unreadable task fails that image's review; any other error
        (throttling, network) is raised, so that the task is retried rather than answers lost.
        """
        name = ticket.name
        task_id = int(ticket.handle) if ticket.handle else None
        review: dict[str, Any] = {
            "backend": self.name,
            "task": name,
            "project_id": self.project_id,
            "task_id": task_id,
        }
        if task_id is None:
            return ReviewOutcome(name, (), review, error=f"review task {name} has no Label Studio task id")
        task = self.hook.get_task(task_id)
        label = f"Label Studio task {task_id} of project {self.project_id}"
        if task is None:
            return ReviewOutcome(
                name,
                (),
                review,
                error=f"{label} was deleted before its answers were collected: it no longer exists",
            )
        data = task.get("data") or {}
        if task.get("project") != self.project_id or data.get(NAME_FIELD) != name:
            return ReviewOutcome(
                name,
                (),
                review,
                error=f"{label} is not review task {name}: it is {data.get(NAME_FIELD)!r} of project "
                f"{task.get('project')} (deleted and its id given to another?)",
            )
        review["url"] = f"{self.hook.base_url}/projects/{self.project_id}/data?task={task_id}"
        required = self.project["maximum_annotations"]
        try:
            state = review_state(task, required)
            if state == SKIPPED:
                who = ", ".join(skipped_by(task))
                return ReviewOutcome(name, (), review, error=f"{label} was skipped by {who}")
            if state == PENDING:
                return ReviewOutcome(
                    name,
                    (),
                    review,
                    error=f"{label} has {task.get('total_annotations')} of {required} annotations; "
                    "expected it to be finished",
                    still_open=True,
                )
            answers = parse_answers(task)
        except AnnotationFormatError as error:
            return ReviewOutcome(name, (), review, error=f"{label}: {error}")
        review |= {
            "reviewers": [answer.worker_id for answer in answers],
            "submitted_at": [answer.submission_time for answer in answers],
            "time_spent_seconds": [answer.time_spent_seconds for answer in answers],
        }
        return ReviewOutcome(name, tuple(answers), review)

    def _tasks_of(self, run_key: str) -> dict[str, tuple[int, str]]:
        """The run's tasks in the project by image key, read once (one sweep) per backend."""
        with self._known_lock:
            if run_key not in self._known:
                tasks: dict[str, tuple[int, str]] = {}
                sweep = self.hook.iter_tasks(
                    self.project_id, filters={RUN_FIELD: run_key}, with_annotations=False, resolve_uri=False
                )
                for task in sweep:
                    data = task.get("data") or {}
                    key = data.get(IMAGE_KEY_FIELD)
                    if data.get(RUN_FIELD) != run_key or not isinstance(key, str):
                        continue
                    if key in tasks:
                        log.warning(
                            "Image %s of run %s has Label Studio tasks %s and %s; using the first.",
                            key,
                            run_key,
                            tasks[key][0],
                            task["id"],
                        )
                        continue
                    tasks[key] = (task["id"], data.get("image"))
                if tasks:
                    log.info("Found %d Label Studio tasks of run %s from earlier tries.", len(tasks), run_key)
                self._known[run_key] = tasks
            return self._known[run_key]

    def _import(self, tasks: list[dict[str, Any]]) -> list[int]:
        ids = self.hook.import_tasks(self.project_id, tasks)
        if len(ids) != len(tasks):
            raise ValueError(
                f"Label Studio imported {len(ids)} tasks into project {self.project_id}; "
                f"{len(tasks)} were sent"
            )
        log.info("Imported %d tasks into Label Studio project %s.", len(tasks), self.project_id)
        return ids


class _Batcher(Generic[Item, Result]):
    """Gathers items submitted from several threads into one call of `flush(items) -> results`.

    A batch goes out when `size` items wait, or when the oldest has waited `linger_seconds`; the
    thread that sends it waits for the answer like the others, so no thread of its own is needed.
    An error of the call is raised in every thread whose item was in the batch.
    """

    def __init__(
        self, flush: Callable[[list[Item]], list[Result]], *, size: int, linger_seconds: float
    ) -> None:
        self._flush = flush
        self._size = size
        self._linger = linger_seconds
        self._ready = threading.Condition()
        self._waiting: list[_Slot[Item, Result]] = []

    def submit(self, item: Item) -> Result:
        slot: _Slot[Item, Result] = _Slot(item)
        with self._ready:
            self._waiting.append(slot)
            deadline = time.monotonic() + self._linger
            while True:
                if slot.done:
                    return slot.result()
                if not slot.taken:
                    remaining = deadline - time.monotonic()
                    if len(self._waiting) >= self._size or remaining <= 0:
                        batch, self._waiting = self._waiting, []
                        for taken in batch:
                            taken.taken = True
                        break
                    self._ready.wait(remaining)
                else:
                    self._ready.wait()
        try:
            results = self._flush([taken.item for taken in batch])
        except BaseException as error:
            outcome: tuple[list[Result] | None, BaseException | None] = (None, error)
        else:
            outcome = (results, None)
        with self._ready:
            for index, taken in enumerate(batch):
                taken.finish(outcome[0][index] if outcome[0] is not None else None, outcome[1])
            self._ready.notify_all()
        return slot.result()


class _Slot(Generic[Item, Result]):
    def __init__(self, item: Item) -> None:
        self.item = item
        self.taken = False
        self.done = False
        self._result: Result | None = None
        self._error: BaseException | None = None

    def finish(self, result: Result | None, error: BaseException | None) -> None:
        self._result, self._error, self.done = result, error, True

    def result(self) -> Result:
        if self._error is not None:
            raise self._error
        return self._result  # type: ignore[return-value]
