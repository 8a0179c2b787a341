"""Review through Amazon A2I: one human loop per image, watched by ListHumanLoops sweeps.

A flow definition is shared by many runs, so every loop of a run starts with a prefix derived
from the run: one paginated ListHumanLoops sweep (100 loops a call) then tells how far the run
is, instead of a DescribeHumanLoop call per loop and poll.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from hitl_detection.a2i_answers import AnswerFormatError, parse_human_loop_output
from hitl_detection.a2i_task import build_input_content
from hitl_detection.hooks.a2i_runtime import A2IRuntimeHook
from hitl_detection.review.base import (
    ReviewBackend,
    ReviewOutcome,
    ReviewProgress,
    ReviewRequest,
    ReviewTicket,
)
from hitl_detection.s3_uri import parse_s3_uri

log = logging.getLogger(__name__)

PENDING_SAMPLE_SIZE = 50  # pending loop names kept for messages; the count is exact regardless


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


class A2IReviewBackend(ReviewBackend):
    """Human loops under one flow definition; answers read from each loop's output.json."""

    name = "a2i"

    def __init__(
        self,
        flow_definition_arn: str,
        hook: A2IRuntimeHook | None = None,
        *,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
    ) -> None:
        if not flow_definition_arn:
            raise ValueError("the a2i review backend needs a flow_definition_arn; got none")
        self.flow_definition_arn = flow_definition_arn
        self.hook = hook or A2IRuntimeHook(
            aws_conn_id=aws_conn_id, region_name=region_name, verify=verify, config=botocore_config
        )

    @cached_property
    def s3(self) -> S3Hook:
        """The output.json reader, on the same connection as the loops."""
        return S3Hook(
            aws_conn_id=self.hook.aws_conn_id,
            region_name=self.hook.region_name,
            verify=self.hook.verify,
            config=self.hook.config,
        )

    def start(self, request: ReviewRequest) -> ReviewTicket:
        """Find the loop named after the request, or start it; never a second loop for one name.

        A ConflictException means another try started the loop between our describe and our
        start (with other input): that loop is the one to wait for.
        """
        name = request.task_name
        existing = self._describe_if_exists(name)
        if existing is not None:
            return self._ticket(existing, reused=True)
        content = build_input_content(
            request.image_s3_uri, request.initial_boxes, request.labels, request.uncertain_boxes
        )
        try:
            self.hook.start_human_loop(name, self.flow_definition_arn, content)
        except self.hook.conn.exceptions.ConflictException:
            log.warning("Human loop %s was started by another try meanwhile; reusing it.", name)
            return self._ticket(self.hook.describe_human_loop(name), reused=True)
        return self._ticket(self.hook.describe_human_loop(name), reused=False)

    def progress(self, scope: dict, expected: int) -> ReviewProgress:
        """One sweep of the flow definition's loops since `created_after`, counting the run's."""
        prefix = scope["name_prefix"]
        created_after = datetime.fromisoformat(scope["created_after"])
        finished = 0
        failed: list[str] = []
        pending: list[str] = []
        for summary in self.hook.iter_human_loops(scope["flow_definition_arn"], created_after):
            name = summary["HumanLoopName"]
            if not name.startswith(prefix):
                continue
            status = summary["HumanLoopStatus"]
            if status in A2IRuntimeHook.HUMAN_LOOP_FINAL_STATES:
                finished += 1
                if status in A2IRuntimeHook.HUMAN_LOOP_FAILED_STATES:
                    failed.append(name)
            elif len(pending) < PENDING_SAMPLE_SIZE:
                pending.append(name)
        return ReviewProgress(
            expected=expected, finished=finished, failed=tuple(failed), pending=tuple(pending)
        )

    def collect(self, tickets: Iterable[ReviewTicket]) -> Iterator[ReviewOutcome]:
        """Describe each loop once; read the answers of a Completed one from its output.json.

        A missing or malformed output.json fails that image's review; any other error (throttling,
        network, permissions) is raised, so that the task is retried rather than answers lost.
        """
        for ticket in tickets:
            yield self._outcome(ticket.task_name)

    def _outcome(self, name: str) -> ReviewOutcome:
        review: dict[str, Any] = {"backend": self.name, "task": name}
        loop = self._describe_if_exists(name)
        if loop is None:
            return ReviewOutcome(name, (), review, error=f"human loop {name} does not exist (deleted?)")
        status = loop["HumanLoopStatus"]
        review |= {"loop_arn": loop["HumanLoopArn"], "created_at": _iso_utc(loop["CreationTime"])}
        if status in A2IRuntimeHook.HUMAN_LOOP_FAILED_STATES:
            why = ": ".join(part for part in (loop.get("FailureCode"), loop.get("FailureReason")) if part)
            return ReviewOutcome(
                name, (), review, error=f"human loop {name} {status}" + (f": {why}" if why else "")
            )
        if status != "Completed":
            return ReviewOutcome(
                name, (), review, error=f"human loop {name} is still {status}; expected it to be finished"
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

    def _describe_if_exists(self, name: str) -> dict[str, Any] | None:
        try:
            return self.hook.describe_human_loop(name)
        except self.hook.conn.exceptions.ResourceNotFoundException:
            return None

    def _ticket(self, loop: dict[str, Any], *, reused: bool) -> ReviewTicket:
        name, flow = loop["HumanLoopName"], loop["FlowDefinitionArn"]
        if flow != self.flow_definition_arn:
            raise ValueError(
                f"human loop {name} exists under flow definition {flow}, not {self.flow_definition_arn}: "
                "a retried or cleared run must keep its flow_definition_arn"
            )
        return ReviewTicket(name, _iso_utc(loop["CreationTime"]), reused=reused)
