"""Two Airflow deployments (staging and prod: two metadata databases) sharing one AWS account,
flow definition and output bucket, each with a run of the same id (`manual__<date>`,
`scheduled__<date>`). Their runs must stay apart (their own loops, endpoint and folder) or the
second must be refused before it spends anything; never may one run use, overwrite or publish
the other's work.

A second deployment is played by the same metadata database with its installation id removed,
which is all a deployment keeps of its own (the Variable a fresh database gets on first use).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fault_world import Reviewers
from invariants import all_loops, check_run, published, task_states

WHEN = datetime(2026, 11, 23, tzinfo=UTC)
INSTALLATION_VARIABLE = "hitl_detection_installation_id"


def run_once(dag, world):
    return dag.test(run_conf=world.conf(), logical_date=WHEN, run_after=WHEN)


def another_deployment() -> None:
    from airflow.models.variable import Variable

    Variable.delete(INSTALLATION_VARIABLE)


def test_two_deployments_with_one_run_id_keep_their_runs_apart(world, detect_and_review):
    with Reviewers(world).running():
        first = run_once(detect_and_review, world)
        staging = check_run(world.stack, first)
        another_deployment()
        second = run_once(detect_and_review, world)

    assert first.run_id == second.run_id
    assert second.state == "success", task_states(second)
    prod = check_run(world.stack, second)
    assert prod.plan.run_key != staging.plan.run_key
    assert prod.plan.layout.folder != staging.plan.layout.folder
    assert prod.plan.deployment.endpoint_name != staging.plan.deployment.endpoint_name
    assert not set(prod.loops) & set(staging.loops)
    assert len(prod.loops) == len(staging.loops) == 7
    assert published(world.stack, staging.plan) == (staging.records, staging.summary)  # untouched
    assert prod.statuses() == staging.statuses() == {"accepted": 5, "reviewed": 7}


def test_two_deployments_given_one_deployment_id_refuse_the_second_run_before_it_spends(
    world, detect_and_review, monkeypatch, capsys
):
    monkeypatch.setenv("AIRFLOW__HITL_DETECTION__DEPLOYMENT_ID", "prod")
    with Reviewers(world).running():
        first = run_once(detect_and_review, world)
        prod = check_run(world.stack, first)
        loops = all_loops(world.stack)
        another_deployment()
        second = run_once(detect_and_review, world)

    assert second.state == "failed"
    states = task_states(second)
    assert states["plan_run"] == "failed"
    assert states["deploy_model"] == "upstream_failed"
    check_run(world.stack, second, published_results=False)  # nothing deployed, nothing left
    assert all_loops(world.stack) == loops  # no loop started, none answered twice
    assert published(world.stack, prod.plan) == (prod.records, prod.summary)
    assert "give each deployment its own [hitl_detection] deployment_id" in capsys.readouterr().out
