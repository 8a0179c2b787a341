"""Review through Amazon A2I: one human loop per image, watched by ListHumanLoops sweeps.

A flow definition is shared by many runs, so every loop of a run starts with a prefix derived
from the run: one paginated ListHumanLoops sweep (100 loops a call) then tells how far the run
is, instead of a DescribeHumanLoop call per loop and poll. Starting a loop is one call; only a
loop that exists already (a retry) costs a DescribeHumanLoop more.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.exceptions import ClientError

from hitl_detection.domain.a2i_answers import AnswerFormatError, parse_human_loop_output
from hitl_detection.domain.a2i_task import build_input_content
from hitl_detection.domain.naming import human_loop_name, human_loop_name_prefix
from hitl_detection.domain.review_tasks import ReviewOutcome, ReviewProgress, ReviewRequest, ReviewTicket
from hitl_detection.domain.run_config import RunConfig
from hitl_detection.domain.s3_uri import parse_s3_uri
from hitl_detection.hooks.a2i_runtime import A2IRuntimeHook
from hitl_detection.hooks.a2i_workflow import A2IWorkflowHook
from hitl_detection.hooks.aws_console import console_url, stand_in_url
from hitl_detection.hooks.aws_errors import is_transient
from hitl_detection.review.base import Connections, ReviewBackend, ReviewSetupError

log = logging.getLogger(__name__)

PENDING_SAMPLE_SIZE = 50  # pending loop names kept for messages; the count is exact regardless


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class A2IReviewBackend(ReviewBackend):
    """Human loops under one flow definition; answers read from each loop's output.json."""

    name = "a2i"

    def __init__(self, settings: Mapping[str, Any], connections: Connections) -> None:
        arn = settings.get("flow_definition_arn")
        if not arn:
            raise ValueError("the a2i review backend needs a flow_definition_arn; got none")
        self.flow_definition_arn: str = arn
        self.connections = connections

    @classmethod
    def settings_from(cls, config: RunConfig) -> dict[str, Any]:
        return {"flow_definition_arn": config.flow_definition_arn}

    @cached_property
    def loops(self) -> A2IRuntimeHook:
        return A2IRuntimeHook(**self.connections.aws_hook_kwargs())

    @cached_property
    def s3(self) -> S3Hook:
        """The output.json reader, on the same connection as the loops."""
        return S3Hook(**self.connections.aws_hook_kwargs())

    def check(self, labels: Sequence[str]) -> None:
        """The flow definition must be this very one (account, region, name) and Active."""
        arn = self.flow_definition_arn
        try:
            found = A2IWorkflowHook(**self.connections.aws_hook_kwargs()).describe_flow_definition(arn)
        except ClientError as error:
            raise ReviewSetupError(f"flow_definition_arn {arn}: {error}") from error
        if found["FlowDefinitionArn"] != arn:
            raise ReviewSetupError(
                f"flow_definition_arn {arn} does not exist here: the flow definition of that name is "
                f"{found['FlowDefinitionArn']} (check the account and region of the ARN and of the "
                "connection)"
            )
        status = found["FlowDefinitionStatus"]
        if status not in A2IWorkflowHook.FLOW_DEFINITION_ACTIVE_STATES:
            raise ReviewSetupError(
                f"flow_definition_arn {arn} is {status}; expected Active (run review_workflow_setup first)"
            )

    def start(self, request: ReviewRequest) -> ReviewTicket:
        """Start the loop named after the run and image: one call. A name taken already (a retry
        or a cleared run) is described once, to make sure it is this run's loop."""
        name = human_loop_name(request.run_key, request.image_key)
        content = build_input_content(
            request.image_s3_uri, request.initial_boxes, request.labels, request.uncertain_boxes
        )
        try:
            arn = self.loops.start_human_loop(name, self.flow_definition_arn, content)
        except self.loops.conn.exceptions.ConflictException:
            log.info("Human loop %s exists from an earlier try; reusing it.", name)
            loop = self.loops.describe_human_loop(name)
            self._check_flow_definition(loop)
            return ReviewTicket(name, loop["HumanLoopArn"], reused=True)
        return ReviewTicket(name, arn)

    def progress_scope(self, run_key: str, started_after: datetime) -> dict[str, Any]:
        return {
            "flow_definition_arn": self.flow_definition_arn,
            "name_prefix": human_loop_name_prefix(run_key),
            "created_after": _iso_utc(started_after),
        }

    def console_url(self, scope: Mapping[str, Any]) -> str:
        """The flow definition's page in the A2I console, which lists its human loops; locally, the
        stand-in's list of loops (its reviewer API)."""
        stand_in = stand_in_url(self.loops, "sagemaker-a2i-runtime")
        if stand_in:
            return f"{stand_in}/reviewer/loops?status=all"
        _, partition, _, region, _, resource = scope["flow_definition_arn"].split(":", 5)
        name = resource.split("/", 1)[1]
        return console_url(partition, region, "a2i/home", fragment=f"/human-review-workflows/{name}")

    def progress(self, scope: Mapping[str, Any], expected: int) -> ReviewProgress:
        """One sweep of the flow definition's loops since `created_after`, counting the run's."""
        listed = finished = 0
        failed: list[str] = []
        pending: list[str] = []
        for summary in self._run_loops(scope):
            listed += 1
            name = summary["HumanLoopName"]
            status = summary["HumanLoopStatus"]
            if status in A2IRuntimeHook.HUMAN_LOOP_FINAL_STATES:
                finished += 1
                if status in A2IRuntimeHook.HUMAN_LOOP_FAILED_STATES:
                    failed.append(name)
            elif len(pending) < PENDING_SAMPLE_SIZE:
                pending.append(name)
        return ReviewProgress(
            expected=expected, finished=finished, failed=tuple(failed), pending=tuple(pending), listed=listed
        )

    def deleted(self, scope: Mapping[str, Any], tickets: Iterable[ReviewTicket]) -> list[str]:
        """One sweep, then a DescribeHumanLoop for each ticket the sweep did not list."""
        listed = {summary["HumanLoopName"] for summary in self._run_loops(scope)}
        gone = []
        for ticket in tickets:
            if ticket.name in listed:
                continue
            try:
                self.loops.describe_human_loop(ticket.name)
            except self.loops.conn.exceptions.ResourceNotFoundException:
                gone.append(ticket.name)
        return gone

    def _run_loops(self, scope: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """The summaries of the run's loops: one paginated sweep of the flow definition's loops."""
        summaries = self.loops.iter_human_loops(
            scope["flow_definition_arn"], datetime.fromisoformat(scope["created_after"])
        )
        return (summary for summary in summaries if summary["HumanLoopName"].startswith(scope["name_prefix"]))

    def is_transient(self, error: BaseException) -> bool:
        return is_transient(error)

    def end_open(self, ticket: ReviewTicket) -> str:
        try:
            self.loops.stop_human_loop(ticket.name)
        except self.loops.conn.exceptions.ResourceNotFoundException:
            return f"human loop {ticket.name} no longer exists"
        return (
            f"human loop {ticket.name} was stopped, so that no one answers it (A2I bills each "
            "reviewed object) after the run published"
        )

    def collect(self, ticket: ReviewTicket) -> ReviewOutcome:
        """Describe the loop once; read the answers of a Completed one from its output.json.

        A missing or malformed output.json fails that image's review; any other error (throttling,
        network, permissions) is raised, so that the task is retried rather than answers lost.
        """
        name = ticket.name
        review: dict[str, Any] = {"backend": self.name, "task": name}
        try:
            loop = self.loops.describe_human_loop(name)
        except self.loops.conn.exceptions.ResourceNotFoundException:
            return ReviewOutcome(
                name,
                (),
                review,
                error=f"human loop {name} was deleted before its answers were collected: it no longer exists",
            )
        status = loop["HumanLoopStatus"]
        review |= {"loop_arn": loop["HumanLoopArn"], "created_at": _iso_utc(loop["CreationTime"])}
        if status in A2IRuntimeHook.HUMAN_LOOP_FAILED_STATES:
            why = ": ".join(part for part in (loop.get("FailureCode"), loop.get("FailureReason")) if part)
            return ReviewOutcome(
                name, (), review, error=f"human loop {name} {status}" + (f": {why}" if why else "")
            )
        if status != "Completed":
            return ReviewOutcome(
                name,
                (),
                review,
                error=f"human loop {name} is still {status}; expected it to be finished",
                still_open=status == "InProgress",
            )
        output_uri = loop["HumanLoopOutput"]["OutputS3Uri"]
        review["output_s3_uri"] = output_uri
        try:
            answers = parse_human_loop_output(self._read(output_uri))
        except (AnswerFormatError, self.s3.conn.exceptions.NoSuchKey) as error:
            return ReviewOutcome(name, (), review, error=f"human loop {name} output {output_uri}: {error}")
        review |= {
            "reviewers": [answer.worker_id for answer in answers],
            "submitted_at": [answer.submission_time for answer in answers],
            "time_spent_seconds": [answer.time_spent_seconds for answer in answers],
        }
        return ReviewOutcome(name, tuple(answers), review)

    def _read(self, uri: str) -> bytes:
        bucket, key = parse_s3_uri(uri)
        return self.s3.conn.get_object(Bucket=bucket, Key=key)["Body"].read()

    def _check_flow_definition(self, loop: Mapping[str, Any]) -> None:
        name, flow = loop["HumanLoopName"], loop["FlowDefinitionArn"]
        if flow != self.flow_definition_arn:
            raise ValueError(
                f"human loop {name} exists under flow definition {flow}, not {self.flow_definition_arn}: "
                "a retried or cleared run must keep its flow_definition_arn"
            )
