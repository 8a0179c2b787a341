"""Human loops: the `sagemaker-a2i-runtime` operations and the reviewer actions that finish a loop.

Statuses follow A2I: a loop starts `InProgress` (or `Failed` with `ValidationError` when its input
does not render in the flow's worker template), becomes `Completed` when TaskCount workers have
answered (output.json written to S3), `Stopped` when stopped, or `Failed` when a reviewer fails it.
"""

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from local_aws.a2i.control_plane import ControlPlane
from local_aws.a2i.loop_output import human_answer, output_document, output_s3_uri, write_output
from local_aws.a2i.validation import OperationInput, invalid
from local_aws.core import protocols
from local_aws.core.arns import sagemaker_arn
from local_aws.core.errors import ApiError
from local_aws.core.pagination import paginate
from local_aws.core.server import Route
from local_aws.core.timestamps import parse_iso, to_iso, utc_now

log = logging.getLogger(__name__)

MAX_FAILURE_REASON = 1024
START = OperationInput("sagemaker-a2i-runtime", "StartHumanLoop")
LIST = OperationInput("sagemaker-a2i-runtime", "ListHumanLoops")


@dataclass
class HumanLoop:
    name: str
    arn: str
    flow_definition_arn: str
    flow_definition_name: str
    output_s3_path: str
    task_count: int
    task_input: Any
    creation_time: datetime = field(default_factory=utc_now)
    status: str = "InProgress"
    failure_code: str | None = None
    failure_reason: str | None = None
    output_s3_uri: str | None = None
    answers: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, code: str, reason: str) -> None:
        self.status, self.failure_code, self.failure_reason = "Failed", code, reason[:MAX_FAILURE_REASON]

    def describe(self) -> dict[str, Any]:
        description = {
            "CreationTime": to_iso(self.creation_time),
            "HumanLoopStatus": self.status,
            "HumanLoopName": self.name,
            "HumanLoopArn": self.arn,
            "FlowDefinitionArn": self.flow_definition_arn,
        }
        if self.status == "Failed":
            description |= {"FailureCode": self.failure_code, "FailureReason": self.failure_reason}
        if self.output_s3_uri:
            description["HumanLoopOutput"] = {"OutputS3Uri": self.output_s3_uri}
        return description

    def summary(self) -> dict[str, Any]:
        summary = {
            "HumanLoopName": self.name,
            "HumanLoopStatus": self.status,
            "CreationTime": to_iso(self.creation_time),
            "FlowDefinitionArn": self.flow_definition_arn,
        }
        if self.failure_reason:
            summary["FailureReason"] = self.failure_reason
        return summary

    def reviewer_view(self) -> dict[str, Any]:
        return {
            "HumanLoopName": self.name,
            "HumanLoopArn": self.arn,
            "FlowDefinitionArn": self.flow_definition_arn,
            "HumanLoopStatus": self.status,
            "CreationTime": to_iso(self.creation_time),
            "InputContent": self.task_input,
            "TaskCount": self.task_count,
            "AnswersReceived": len(self.answers),
            "WorkerIds": [answer["workerId"] for answer in self.answers],
        }

    @property
    def pending(self) -> bool:
        return self.status == "InProgress" and len(self.answers) < self.task_count


class HumanLoops:
    """Every human loop of one account and region, in memory."""

    def __init__(self, region: str, control_plane: ControlPlane, s3_client: Any) -> None:
        self.region = region
        self.control_plane = control_plane
        self.s3 = s3_client
        self._lock = threading.Lock()
        self._loops: dict[str, HumanLoop] = {}

    def reset(self) -> None:
        with self._lock:
            self._loops.clear()

    def routes(self) -> list[Route]:
        """The `sagemaker-a2i-runtime` API, in rest-json."""
        a2i, body, loop = protocols.A2I_RUNTIME, protocols.json_object, "/human-loops/<name>"
        return [
            Route("/human-loops", "POST", "StartHumanLoop", a2i, lambda req, _: self.start(body(req))),
            Route("/human-loops", "GET", "ListHumanLoops", a2i, lambda req, _: self.list_loops(req.args)),
            Route("/human-loops/stop", "POST", "StopHumanLoop", a2i, lambda req, _: self.stop(body(req))),
            Route(loop, "GET", "DescribeHumanLoop", a2i, lambda _, url: self.describe(url["name"])),
            Route(loop, "DELETE", "DeleteHumanLoop", a2i, lambda _, url: self.delete(url["name"])),
        ]

    # sagemaker-a2i-runtime

    def start(self, params: dict[str, Any]) -> dict[str, Any]:
        name = _loop_name(params.get("HumanLoopName"))
        flow_arn = START.string(params.get("FlowDefinitionArn"), "FlowDefinitionArn")
        loop_input = START.structure(params.get("HumanLoopInput"), "HumanLoopInput")
        content = START.string(loop_input.get("InputContent"), "HumanLoopInput.InputContent")
        try:
            task_input = json.loads(content)
        except ValueError:
            raise ApiError("ValidationException", "HumanLoopInput.InputContent is not valid JSON.") from None
        _check_data_attributes(params.get("DataAttributes"))
        flow = self.control_plane.flow_by_arn(flow_arn)
        if flow is None:
            raise ApiError("ValidationException", f"FlowDefinition {flow_arn} does not exist.")
        if flow.status != "Active":
            raise ApiError("ValidationException", f"FlowDefinition {flow_arn} is {flow.status}, not Active.")
        rendering = self.control_plane.render_for_flow(flow, task_input)
        with self._lock:
            existing = self._loops.get(name)
            if existing is not None:
                if existing.flow_definition_arn == flow_arn and existing.task_input == task_input:
                    return {"HumanLoopArn": existing.arn}
                raise ApiError(
                    "ConflictException",
                    f"HumanLoop {name} already exists with a different input or flow definition.",
                    409,
                )
            loop = HumanLoop(
                name=name,
                arn=sagemaker_arn(self.region, "human-loop", name),
                flow_definition_arn=flow_arn,
                flow_definition_name=flow.name,
                output_s3_path=flow.output_s3_path,
                task_count=flow.human_loop_config["TaskCount"],
                task_input=task_input,
            )
            if rendering.errors:
                loop.fail("ValidationError", "; ".join(error.message for error in rendering.errors))
            self._loops[name] = loop
        reason = f" ({loop.failure_reason})" if loop.failure_reason else ""
        log.info("StartHumanLoop %s (flow %s): %s%s", name, flow.name, loop.status, reason)
        return {"HumanLoopArn": loop.arn}

    def describe(self, name: str) -> dict[str, Any]:
        with self._lock:
            return self._loop(name).describe()

    def list_loops(self, query: Mapping[str, str]) -> dict[str, Any]:
        """One page of a flow's loops. CreationTimeAfter is inclusive and CreationTimeBefore exclusive
        (AWS does not say), so back-to-back time windows neither miss nor repeat a loop."""
        flow_arn = LIST.string(query.get("FlowDefinitionArn"), "FlowDefinitionArn")
        if self.control_plane.flow_by_arn(flow_arn) is None:
            raise ApiError("ResourceNotFoundException", f"FlowDefinition {flow_arn} does not exist.", 404)
        after, before = (_query_time(query, name) for name in ("CreationTimeAfter", "CreationTimeBefore"))
        sort_order = LIST.enum(query.get("SortOrder"), "SortOrder")
        max_results = _max_results(query.get("MaxResults"))
        next_token = LIST.string(query.get("NextToken"), "NextToken", required=False)
        with self._lock:
            loops = [
                loop
                for loop in self._loops.values()
                if loop.flow_definition_arn == flow_arn
                and (after is None or loop.creation_time >= after)
                and (before is None or loop.creation_time < before)
            ]
            page, token = paginate(
                loops, sort_order=sort_order, max_results=max_results, next_token=next_token
            )
            summaries = [loop.summary() for loop in page]
        return {"HumanLoopSummaries": summaries, **({"NextToken": token} if token else {})}

    def stop(self, params: dict[str, Any]) -> dict[str, Any]:
        name = _loop_name(params.get("HumanLoopName"))
        with self._lock:
            loop = self._loop(name)
            if loop.status in ("Completed", "Failed"):
                raise ApiError(
                    "ValidationException", f"HumanLoop {name} is {loop.status} and cannot be stopped."
                )
            loop.status = "Stopped"
        log.info("StopHumanLoop %s: Stopped", name)
        return {}

    def delete(self, name: str) -> dict[str, Any]:
        with self._lock:
            loop = self._loop(name)
            if loop.status == "InProgress":
                raise ApiError(
                    "ValidationException", f"HumanLoop {name} is InProgress: stop it before deleting it."
                )
            del self._loops[name]
        log.info("DeleteHumanLoop %s", name)
        return {}

    def _loop(self, name: str) -> HumanLoop:
        """The loop named `name`; the caller holds the lock."""
        _loop_name(name)
        loop = self._loops.get(name)
        if loop is None:
            raise ApiError("ResourceNotFoundException", f"HumanLoop {name} does not exist.", 404)
        return loop

    # Reviewer actions

    def reviewer_loops(self, pending_only: bool) -> list[dict[str, Any]]:
        with self._lock:
            loops = sorted(self._loops.values(), key=lambda loop: (loop.creation_time, loop.name))
            return [loop.reviewer_view() for loop in loops if loop.pending or not pending_only]

    def record_answer(
        self, name: str, worker_id: str, answer_content: dict[str, Any], time_spent_seconds: float | None
    ) -> dict[str, Any]:
        """Record one worker's answer; the last of TaskCount answers writes output.json and completes."""
        with self._lock:
            loop = self._loop(name)
            if loop.status != "InProgress":
                raise ApiError(
                    "ConflictException", f"HumanLoop {name} is {loop.status}: no answers are taken.", 409
                )
            if any(answer["workerId"] == worker_id for answer in loop.answers):
                raise ApiError(
                    "ConflictException", f"Worker {worker_id} already answered HumanLoop {name}.", 409
                )
            submitted = utc_now()
            if time_spent_seconds is None:
                time_spent_seconds = (submitted - loop.creation_time).total_seconds()
            loop.answers.append(
                human_answer(worker_id, answer_content, submitted, time_spent_seconds, self.region)
            )
            log.info(
                "HumanLoop %s: answer %d/%d from %s", name, len(loop.answers), loop.task_count, worker_id
            )
            if len(loop.answers) == loop.task_count:
                self._complete(loop)
            result = {"HumanLoopStatus": loop.status, "AnswersReceived": len(loop.answers)}
            if loop.output_s3_uri:
                result["OutputS3Uri"] = loop.output_s3_uri
            return result

    def fail(self, name: str, code: str, reason: str) -> dict[str, Any]:
        with self._lock:
            loop = self._loop(name)
            if loop.status != "InProgress":
                raise ApiError(
                    "ConflictException", f"HumanLoop {name} is {loop.status}, not InProgress.", 409
                )
            loop.fail(code, reason)
            result = {"HumanLoopStatus": "Failed", "FailureCode": code, "FailureReason": loop.failure_reason}
        log.info("HumanLoop %s: Failed (%s: %s)", name, code, loop.failure_reason)
        return result

    def _complete(self, loop: HumanLoop) -> None:
        uri = output_s3_uri(loop.output_s3_path, loop.flow_definition_name, loop.name, loop.creation_time)
        document = output_document(loop.flow_definition_arn, loop.name, loop.task_input, loop.answers)
        try:
            write_output(self.s3, uri, document)
        except (BotoCoreError, ClientError) as error:
            loop.fail("InternalError", f"Could not write {uri}: {error}")
            log.warning("HumanLoop %s: Failed, %s", loop.name, loop.failure_reason)
            return
        loop.status, loop.output_s3_uri = "Completed", uri
        log.info("HumanLoop %s: Completed, output %s", loop.name, uri)


def _loop_name(value: Any) -> str:
    """A loop's name, from a request body or a URL (StartHumanLoop's rules are every operation's)."""
    return START.string(value, "HumanLoopName")


def _query_time(query: Mapping[str, str], name: str) -> datetime | None:
    return parse_iso(query[name], name) if name in query else None


def _max_results(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise invalid("MaxResults", value, "Member must be an integer") from None
    return LIST.integer(number, "MaxResults")


def _check_data_attributes(value: Any) -> None:
    attributes = START.structure(value, "DataAttributes", required=False)
    if attributes is None:
        return
    path = "DataAttributes.ContentClassifiers"
    classifiers = attributes.get("ContentClassifiers")
    if classifiers is None:
        raise invalid(path, None, "Member must not be null")
    if not isinstance(classifiers, list):
        raise invalid(path, classifiers, "Member must be a list")
    for index, classifier in enumerate(classifiers):
        START.enum(classifier, f"{path}.{index + 1}.member", required=True)
