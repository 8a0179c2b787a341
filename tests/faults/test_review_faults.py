"""Faults on the review side: A2I throttling and failing while loops start, during the wait and
while answers are read, loops that end without an answer (Failed, Expired, Stopped, deleted), the
wait's own deadline, and the triggerer restarting while it waits.

Of the 12 sample images 5 need no review and 7 do (street-04 to -09 and -12).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from fault_world import Reviewers, retrying, set_task
from invariants import check_run, task_states, tries

from local_aws.stack import clear_faults, inject_fault

WHEN = datetime(2026, 11, 22, tzinfo=UTC)
# Loops are answered this long after they start: the wait defers before they are, even on a slow machine.
ANSWER_AFTER = 8


def run_once(dag, world):
    return dag.test(run_conf=world.conf(), logical_date=WHEN, run_after=WHEN)


def outage(world, operation: str, seconds: float, *, after: int | None = None) -> None:
    """`operation` answers 429 (ThrottlingException) for `seconds`, then 500 for as long, from
    the first call after the `after` calls that still pass."""
    inject_fault(world.stack, operation, "ThrottlingException", after=after, seconds=seconds)
    inject_fault(world.stack, operation, "InternalServerException", seconds=seconds)


# Starting the loops


@pytest.mark.parametrize(
    ("operation", "task_id"),
    [
        ("StartHumanLoop", "start_reviews"),
        # Only collect_reviews describes loops (a start that finds its loop gets its ARN back).
        ("DescribeHumanLoop", "collect_reviews"),
    ],
)
def test_a2i_throttling_then_failing_while_loops_start_or_answers_are_read_is_ridden_out_by_retries(
    world, detect_and_review, operation, task_id
):
    outage(world, operation, seconds=2)
    retrying(detect_and_review, task_id, retries=5, delay_seconds=1)

    with Reviewers(world).running():
        run = run_once(detect_and_review, world)

    assert run.state == "success", task_states(run)
    assert tries(run, task_id) > 1
    outcome = check_run(world.stack, run)
    assert outcome.statuses() == {"accepted": 5, "reviewed": 7}
    assert len(outcome.loops) == 7


def test_an_a2i_outage_outlasting_the_retries_of_start_fails_the_run_and_a_cleared_run_finishes_it(
    world, detect_and_review
):
    # Three loops start, then A2I throttles every call until the outage ends.
    inject_fault(world.stack, "StartHumanLoop", "ThrottlingException", after=3, count=1_000_000)

    with Reviewers(world).running():  # people answer the three loops meanwhile
        run = run_once(detect_and_review, world)

        assert run.state == "failed"
        states = task_states(run)
        assert states["start_reviews"] == "failed"
        assert states["delete_endpoint"] == "success"  # nothing bills during the outage
        failed = check_run(world.stack, run, published_results=False)
        assert len(failed.loops) == 3

        clear_faults(world.stack)
        again = run_once(detect_and_review, world)

    assert again.state == "success", task_states(again)
    outcome = check_run(world.stack, again)
    assert outcome.statuses() == {"accepted": 5, "reviewed": 7}
    assert set(failed.loops) < set(outcome.loops)  # the three loops were found again, not doubled


# The wait


@pytest.fixture
def list_statuses(on_botocore_event) -> list[int]:
    """The HTTP status of every ListHumanLoops answer the run got, each attempt (botocore retries)."""
    statuses: list[int] = []

    def record(response_dict=None, **_) -> None:
        if response_dict is not None:
            statuses.append(response_dict["status_code"])

    on_botocore_event("response-received.sagemaker-a2i-runtime.ListHumanLoops", record)
    return statuses


def test_a2i_throttling_then_failing_during_the_wait_is_waited_out(world, detect_and_review, list_statuses):
    # The wait's first check passes and it defers; then A2I throttles, then fails, for 2 s each.
    outage(world, "ListHumanLoops", seconds=2, after=1)

    with Reviewers(world, delay_seconds=ANSWER_AFTER).running():
        run = run_once(detect_and_review, world)

    assert run.state == "success", task_states(run)
    assert {429, 500} <= set(list_statuses)  # the wait met both
    assert tries(run, "wait_for_reviews") == 1  # and rode them out, no task retry spent
    outcome = check_run(world.stack, run)
    assert outcome.statuses() == {"accepted": 5, "reviewed": 7}


def test_an_a2i_outage_under_way_when_the_wait_begins_is_waited_out(world, detect_and_review, list_statuses):
    # Longer than the task's retries at once take: only the wait itself can ride it out.
    outage(world, "ListHumanLoops", seconds=4)

    with Reviewers(world, delay_seconds=ANSWER_AFTER).running():
        run = run_once(detect_and_review, world)

    assert run.state == "success", task_states(run)
    assert list_statuses[0] == 429
    assert tries(run, "wait_for_reviews") == 1
    outcome = check_run(world.stack, run)
    assert outcome.statuses() == {"accepted": 5, "reviewed": 7}


def test_failed_expired_and_stopped_loops_become_review_failed_records(world, detect_and_review):
    actions = {"street-04.jpg": "fail", "street-05.jpg": "expire", "street-06.png": "stop"}

    with Reviewers(world, actions).running():
        run = run_once(detect_and_review, world)

    assert run.state == "success", task_states(run)
    outcome = check_run(world.stack, run)
    assert outcome.statuses() == {"accepted": 5, "reviewed": 4, "review_failed": 3}
    records = outcome.by_image()
    for image, words in {
        "street-04.jpg": ("Failed", "InternalError"),
        "street-05.jpg": ("Failed", "Expired"),
        "street-06.png": ("Stopped",),
    }.items():
        record = records[image]
        assert record["status"] == "review_failed"
        assert all(word in record["error"] for word in words), record["error"]
        # The model's confident boxes are kept: nothing the model was sure of is lost.
        assert record["boxes"] == [box for box in record["model_boxes"] if box["score"] >= 0.9]


def test_a_deleted_loop_becomes_a_review_failed_record_without_waiting_for_the_deadline(
    world, detect_and_review
):
    # Without the deleted loop noticed, the wait would run into this deadline and fail.
    set_task(detect_and_review, "wait_for_reviews", timeout=60)

    with Reviewers(world, {"street-07.jpg": "delete"}).running():
        run = run_once(detect_and_review, world)

    assert run.state == "success", task_states(run)
    outcome = check_run(world.stack, run)
    assert outcome.statuses() == {"accepted": 5, "reviewed": 6, "review_failed": 1}
    deleted = outcome.by_image()["street-07.jpg"]
    assert deleted["status"] == "review_failed"
    assert "deleted" in deleted["error"]


def test_when_the_wait_reaches_its_deadline_the_answers_given_are_published_and_the_open_loops_stopped(
    world, detect_and_review
):
    set_task(detect_and_review, "wait_for_reviews", timeout=8)

    with Reviewers(world, {"street-08.jpg": "leave", "street-09.jpg": "leave"}).running():
        run = run_once(detect_and_review, world)

    assert run.state == "success", task_states(run)
    outcome = check_run(world.stack, run)  # the five answers given are published as reviewed
    assert outcome.statuses() == {"accepted": 5, "reviewed": 5, "review_failed": 2}
    records = outcome.by_image()
    for image in ("street-08.jpg", "street-09.jpg"):
        error = records[image]["error"]
        assert "reached its deadline" in error, error
        assert "was stopped" in error, error
        # Nobody can answer (and be paid for) what the run did not publish.
        loop = world.client("sagemaker-a2i-runtime").describe_human_loop(
            HumanLoopName=records[image]["review"]["task"]
        )
        assert loop["HumanLoopStatus"] in {"Stopping", "Stopped"}


# The triggerer


class _TriggererStopsAfter:
    """What a triggerer going down does to a trigger: its run() is cancelled, no event comes."""

    def __init__(self, trigger, seconds: float) -> None:
        self.trigger = trigger
        self.seconds = seconds
        self.stopped = False

    async def run(self):
        try:
            event = await asyncio.wait_for(anext(self.trigger.run()), self.seconds)
        except TimeoutError:
            self.stopped = True
            return
        yield event


def test_a_triggerer_restarted_during_the_wait_resumes_from_what_it_stored(
    world, detect_and_review, monkeypatch
):
    """The triggerer keeps a deferred task's trigger as a row (classpath and kwargs, as
    `serialize()` gave them) and nothing else: a restarted one builds the trigger anew from that row.
    Here the first instance is cancelled mid-wait, as a stopping triggerer cancels it; then a fresh
    instance is built from the Trigger row Airflow would have stored, and run to its event."""
    from airflow.models.trigger import Trigger
    from airflow.sdk._shared.module_loading import import_string
    from airflow.sdk.definitions import dag as dag_module

    run_inline = dag_module._run_inline_trigger
    restarts: list[dict] = []

    def restarting_triggerer(trigger, ti):
        if type(trigger).__name__ != "ReviewsTrigger" or restarts:
            return run_inline(trigger, ti)
        first = _TriggererStopsAfter(trigger, seconds=2)
        assert run_inline(first, ti) is None  # down before the reviews were done
        assert first.stopped
        row = Trigger.from_object(trigger)
        restarts.append(row.kwargs)
        return run_inline(import_string(row.classpath)(**row.kwargs), ti)

    monkeypatch.setattr(dag_module, "_run_inline_trigger", restarting_triggerer)

    with Reviewers(world, delay_seconds=ANSWER_AFTER).running():
        run = run_once(detect_and_review, world)

    assert run.state == "success", task_states(run)
    assert len(restarts) == 1
    assert tries(run, "wait_for_reviews") == 1
    outcome = check_run(world.stack, run)
    assert outcome.statuses() == {"accepted": 5, "reviewed": 7}
