"""Detection failing midway through a run of two shards (150 images): for a moment, and for good.

A retry (or a cleared run) sends only the images of the shards not yet written, so no image is
detected twice into the results and none is left out.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fault_world import Reviewers, copy_samples, retrying
from invariants import check_run, task_states, tries, xcom_of
from pipeline_world import BUCKET

from local_aws.stack import clear_faults, inject_fault

WHEN = datetime(2026, 11, 21, tzinfo=UTC)
IMAGES = 150  # two shards of 100
FAILING_FROM = 120  # the 121st InvokeEndpoint, in the second shard


def test_an_endpoint_outage_midway_is_retried_and_only_the_unwritten_shard_is_sent_again(
    world, detect_and_review
):
    copy_samples(world.client("s3"), BUCKET, "images/", IMAGES - 12)  # two shards with the samples
    # Longer than a call's three attempts: the first try fails; a later one meets a working endpoint.
    inject_fault(world.stack, "InvokeEndpoint", "InternalFailure", status=500, after=FAILING_FROM, seconds=4)
    retrying(detect_and_review, "detect_objects", retries=5, delay_seconds=1)

    with Reviewers(world).running():
        run = detect_and_review.test(run_conf=world.conf(), logical_date=WHEN, run_after=WHEN)

    assert run.state == "success", task_states(run)
    assert tries(run, "detect_objects") > 1
    detected = xcom_of(run, "detect_objects")
    assert detected["reused_shards"] == 1  # the first shard, written by the failed try
    assert detected["images"] == IMAGES - 100  # what the last try sent: the second shard only
    outcome = check_run(world.stack, run)
    assert len(outcome.records) == IMAGES
    assert outcome.statuses()["error"] == 0


def test_an_endpoint_failing_for_good_fails_the_run_and_a_cleared_run_finishes_it(world, detect_and_review):
    copy_samples(world.client("s3"), BUCKET, "images/", IMAGES - 12)  # two shards with the samples
    inject_fault(
        world.stack, "InvokeEndpoint", "InternalFailure", status=500, after=FAILING_FROM, count=1_000_000
    )

    with Reviewers(world).running():
        run = detect_and_review.test(run_conf=world.conf(), logical_date=WHEN, run_after=WHEN)

        assert run.state == "failed"
        states = task_states(run)
        assert states["detect_objects"] == "failed"
        assert states["delete_endpoint"] == "success"
        assert states["start_reviews"] == "upstream_failed"
        check_run(world.stack, run, published_results=False)

        clear_faults(world.stack)  # the endpoint's model is fixed; the user clears the whole run
        again = detect_and_review.test(run_conf=world.conf(), logical_date=WHEN, run_after=WHEN)

    assert again.state == "success", task_states(again)
    detected = xcom_of(again, "detect_objects")
    assert detected["reused_shards"] == 1  # the first run's first shard is not sent again
    outcome = check_run(world.stack, again)
    assert len(outcome.records) == IMAGES
    assert outcome.statuses()["error"] == 0
