"""Faults while the endpoint is deployed: a setup half done, an endpoint that never comes up.

Each case but the last: the run fails before detection, the teardown deletes whatever was made, no
loop is started and nothing is published; once the cause is gone, running the run again (what
clearing it in the UI does) completes it, with every image in the results once. The last: an
endpoint that goes Failed once is made again by the task's retry, and the run completes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fault_world import Reviewers, retrying, set_task
from invariants import check_run, task_states, tries

from local_aws.stack import arm_endpoint_outcome, clear_faults, inject_fault

WHEN = datetime(2026, 11, 20, tzinfo=UTC)


def run_once(dag, world):
    return dag.test(run_conf=world.conf(), logical_date=WHEN, run_after=WHEN)


def rerun_completes(dag, world) -> None:
    with Reviewers(world).running():
        again = run_once(dag, world)
    assert again.state == "success", task_states(again)
    outcome = check_run(world.stack, again)
    assert outcome.statuses() == {"accepted": 5, "reviewed": 7}


def test_an_endpoint_config_refused_after_the_model_was_made_leaves_nothing_behind(
    world, detect_and_review, capsys
):
    inject_fault(
        world.stack,
        "CreateEndpointConfig",
        "ResourceLimitExceeded",
        status=400,
        message="The account-level service limit 'ml.m4.xlarge for endpoint usage' is 0 Instances",
        count=1000,
    )

    run = run_once(detect_and_review, world)

    assert run.state == "failed"
    states = task_states(run)
    assert states["deploy_model"] == "success"
    assert states["deploy_endpoint_config"] == "failed"
    assert states["detect_objects"] == "upstream_failed"
    assert states["delete_endpoint"] == "success"  # it deleted the model the run had made
    check_run(world.stack, run, published_results=False)
    assert "ml.m4.xlarge for endpoint usage" in capsys.readouterr().out  # the task log says why

    clear_faults(world.stack)  # the limit was raised
    rerun_completes(detect_and_review, world)


def test_an_endpoint_that_goes_failed_instead_of_in_service_is_deleted(world, detect_and_review, capsys):
    arm_endpoint_outcome(
        world.stack,
        "Failed",
        failure_reason="InsufficientInstanceCapacity: not enough ml.m4.xlarge capacity",
        creating_seconds=4,  # long enough for the deferred wait to see it Creating
        count=2,  # on every try: the retry deletes it and creates it again, to fail again
    )
    set_task(detect_and_review, "deploy_endpoint", check_interval=0.5)
    retrying(detect_and_review, "deploy_endpoint", retries=1, delay_seconds=0)

    run = run_once(detect_and_review, world)

    assert run.state == "failed"
    states = task_states(run)
    assert states["deploy_endpoint"] == "failed"
    assert tries(run, "deploy_endpoint") == 2
    assert states["detect_objects"] == "upstream_failed"
    assert states["delete_endpoint"] == "success"
    check_run(world.stack, run, published_results=False)
    log = capsys.readouterr().out
    assert "is Creating" in log  # the triggerer watched it come up...
    assert "is Failed, expected InService: InsufficientInstanceCapacity" in log  # ...and fail
    assert "was Failed from an earlier try" in log  # the retry made it again

    rerun_completes(detect_and_review, world)  # the next endpoint comes up


def test_an_endpoint_failed_on_the_first_try_is_created_again_by_the_retry(world, detect_and_review, capsys):
    arm_endpoint_outcome(
        world.stack,
        "Failed",
        failure_reason="InsufficientInstanceCapacity: not enough ml.m4.xlarge capacity",
        creating_seconds=1,
        deleting_seconds=2,  # DeleteEndpoint only starts the deletion, as SageMaker's does
        count=1,  # the endpoint created again comes up
    )
    set_task(detect_and_review, "deploy_endpoint", check_interval=0.5)
    retrying(detect_and_review, "deploy_endpoint", retries=2, delay_seconds=1)

    with Reviewers(world).running():
        run = run_once(detect_and_review, world)

    assert run.state == "success", task_states(run)
    assert tries(run, "deploy_endpoint") == 2  # the first retry succeeded
    outcome = check_run(world.stack, run)
    assert outcome.statuses() == {"accepted": 5, "reviewed": 7}
    log = capsys.readouterr().out
    name = outcome.plan.deployment.endpoint_name
    assert "is Failed, expected InService: InsufficientInstanceCapacity" in log  # the first try...
    assert f"Endpoint {name} is Deleting." in log  # ...the retry waited for the deletion...
    assert (
        f"Endpoint {name} was Failed from an earlier try "
        "(InsufficientInstanceCapacity: not enough ml.m4.xlarge capacity): deleted, creating it again."
    ) in log  # ...and made the endpoint again
