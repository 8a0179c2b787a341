"""Faults while the endpoint is deployed: a setup half done, an endpoint that never comes up.

Each case: the run fails before detection, the teardown deletes whatever was made, no loop is
started and nothing is published; once the cause is gone, running the run again (what clearing
it in the UI does) completes it, with every image in the results once.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fault_world import Reviewers, set_task
from invariants import check_run, task_states

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
    )
    set_task(detect_and_review, "deploy_endpoint", check_interval=0.5)

    run = run_once(detect_and_review, world)

    assert run.state == "failed"
    states = task_states(run)
    assert states["deploy_endpoint"] == "failed"
    assert states["detect_objects"] == "upstream_failed"
    assert states["delete_endpoint"] == "success"
    check_run(world.stack, run, published_results=False)
    log = capsys.readouterr().out
    assert "is Creating" in log  # the triggerer watched it come up...
    assert "is Failed, expected InService: InsufficientInstanceCapacity" in log  # ...and fail

    rerun_completes(detect_and_review, world)  # the next endpoint comes up
