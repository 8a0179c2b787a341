"""Faults only a real scheduler and triggerer meet, under `airflow standalone` with the stand-in:

- a task process killed with SIGKILL while it starts loops, retried by the scheduler;
- the whole run then cleared from the REST API and run again;
- the triggerer killed while the review sensor waits in it, and another triggerer taking over.

Each ends with the invariants of tests/faults/invariants.py: no duplicate loop, no leaked endpoint,
every image exactly once in the results.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fault_world import copy_samples
from invariants import all_loops, check_invariants
from standalone_world import RUN_TIMEOUT, wait_for

from hitl_detection.domain.naming import human_loop_name_prefix
from hitl_detection.domain.run_plan import RunPlan
from local_aws.stack import clear_faults, inject_fault

pytestmark = pytest.mark.timeout(900)

DAG_ID = "detect_and_review"
FINISHED = ("success", "failed")


def conf(flow_definition_arn: str, images_prefix: str) -> dict[str, Any]:
    from scripts.airflow_local import BUCKET, FORM_VALUES

    return FORM_VALUES[DAG_ID] | {
        "input_s3_uri": f"s3://{BUCKET}/{images_prefix}",
        "flow_definition_arn": flow_definition_arn,
    }


def trigger(airflow, run_conf: dict[str, Any]) -> str:
    return airflow.api("POST", f"dags/{DAG_ID}/dagRuns", {"logical_date": None, "conf": run_conf})[
        "dag_run_id"
    ]


def task(airflow, run_id: str, task_id: str) -> dict[str, Any]:
    return airflow.api("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}")


def states(airflow, run_id: str) -> dict[str, str]:
    listed = airflow.api("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]
    return {ti["task_id"]: ti["state"] for ti in listed}


def finished(airflow, run_id: str) -> str:
    return wait_for(
        lambda: (
            (state := airflow.api("GET", f"dags/{DAG_ID}/dagRuns/{run_id}")["state"]) in FINISHED and state
        ),
        RUN_TIMEOUT,
        f"run {run_id} finished",
        poll=1,
    )


def plan_of(airflow, run_id: str) -> RunPlan:
    entry = airflow.api(
        "GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/plan_run/xcomEntries/return_value"
    )
    value = entry["value"]
    return RunPlan.from_xcom(json.loads(value) if isinstance(value, str) else value)


def run_loops(airflow, plan: RunPlan) -> list[str]:
    prefix = human_loop_name_prefix(plan.run_key)
    return [
        loop["HumanLoopName"] for loop in all_loops(airflow.stack) if loop["HumanLoopName"].startswith(prefix)
    ]


def test_a_task_killed_while_starting_loops_is_retried_without_a_second_loop_and_a_cleared_run_repeats_it(
    airflow, flow_definition_arn, own_processes
):
    from scripts.airflow_local import BUCKET

    images = len(copy_samples(airflow.stack.client("s3"), BUCKET, "killed/", 24))  # 14 need review
    # Each StartHumanLoop takes 3 s: 8 at once, so the loops start in two waves, 3 s apart.
    inject_fault(airflow.stack, "StartHumanLoop", None, delay_seconds=3, count=1_000_000)
    run_id = trigger(airflow, conf(flow_definition_arn, "killed/"))

    starting = wait_for(
        lambda: (ti := task(airflow, run_id, "start_reviews"))["state"] == "running" and ti["pid"] and ti,
        RUN_TIMEOUT,
        "start_reviews running",
    )
    plan = plan_of(airflow, run_id)
    before = wait_for(lambda: run_loops(airflow, plan), 30, "the first wave of loops")
    assert len(before) < 14, "every loop had started before the kill"
    own_processes.kill(starting["pid"], f"airflow worker -- {starting['id']}")
    clear_faults(airflow.stack)

    assert finished(airflow, run_id) == "success", states(airflow, run_id)
    assert task(airflow, run_id, "start_reviews")["try_number"] == 2  # the scheduler's retry
    outcome = check_invariants(airflow.stack, plan, context=str(states(airflow, run_id)))
    assert len(outcome.records) == images
    assert set(before) < set(outcome.loops)
    assert outcome.statuses() == {"accepted": 10, "reviewed": 14}

    # The whole run cleared from the REST API (the UI's "Clear" on the run) and run again.
    airflow.api("POST", f"dags/{DAG_ID}/dagRuns/{run_id}/clear", {"dry_run": False})
    wait_for(lambda: task(airflow, run_id, "publish_results")["state"] != "success", 60, "the run cleared")
    assert finished(airflow, run_id) == "success", states(airflow, run_id)
    again = check_invariants(airflow.stack, plan_of(airflow, run_id), context=str(states(airflow, run_id)))
    assert again.loops.keys() == outcome.loops.keys()
    assert again.records == outcome.records


def trigger_logs(airflow, run_id: str) -> dict[int, Path]:
    """The wait's trigger log files by the id of the triggerer job that ran it (one file each)."""
    folder = airflow.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / "task_id=wait_for_reviews"
    return {int(path.name.split(".")[-2]): path for path in folder.glob("attempt=1.log.trigger.*.log")}


def test_a_triggerer_killed_during_the_wait_is_replaced_and_the_run_completes(
    airflow, flow_definition_arn, own_processes
):
    """A crash, not a clean stop: the triggerer's processes get SIGKILL once the wait runs in it,
    and a new triggerer takes the trigger over when the dead one's heartbeat is too old, building
    it from what the first one stored in the database."""
    run_id = trigger(airflow, conf(flow_definition_arn, "images/"))
    first_jobs = {job["id"] for job in airflow.api("GET", "jobs?job_type=TriggererJob")["jobs"]}
    wait_for(
        lambda: any(
            path.stat().st_size for job, path in trigger_logs(airflow, run_id).items() if job in first_jobs
        ),
        RUN_TIMEOUT,
        "the wait running in the triggerer",
    )
    assert task(airflow, run_id, "wait_for_reviews")["state"] == "deferred"
    triggerers = own_processes.matching("airflow triggerer")
    assert triggerers, "no triggerer process found in standalone's session"
    for pid in triggerers:
        own_processes.kill(pid, "triggerer")
    killed_at = time.monotonic()
    own_processes.start(
        [str(Path(sys.executable).parent / "airflow"), "triggerer", "--skip-serve-logs"],
        airflow.env,
        airflow.home / "triggerer-replacement.log",
    )

    assert finished(airflow, run_id) == "success", states(airflow, run_id)
    print(f"the run finished {time.monotonic() - killed_at:.0f} s after the triggerer was killed")
    assert task(airflow, run_id, "wait_for_reviews")["try_number"] == 1
    taken_over = [path for job, path in trigger_logs(airflow, run_id).items() if job not in first_jobs]
    assert taken_over, f"no other triggerer ran the wait: {trigger_logs(airflow, run_id)}"
    assert "'status': 'success'" in taken_over[0].read_text(errors="replace")  # its event ended the wait
    outcome = check_invariants(airflow.stack, plan_of(airflow, run_id), context=str(states(airflow, run_id)))
    assert outcome.statuses() == {"accepted": 5, "reviewed": 7}
