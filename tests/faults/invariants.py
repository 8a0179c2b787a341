"""What every fault case ends with: nothing lost, nothing mixed, nothing left billing.

`check_run` reads what a run left behind from the stand-in itself (moto's endpoints, the A2I
emulator's loops through its reviewer API, which no fault reaches, and the published files in S3)
and asserts, whatever the fault was:

- no leaked endpoint: no endpoint, endpoint config or model is left but those named `kept`;
- no duplicate loop: the run has at most one loop per image, each named for its run and image;
- every image exactly once: results.jsonl holds one record per image under the input prefix, no
  more, no fewer, and the summary counts them; or, when the run failed before publishing, no
  results file at all (nothing half-published);
- nothing mixed, nothing lost: each record's loop is this run's loop of that very image (by
  name, and by what it showed), each of the run's loops is in exactly one record, and each loop a
  human finished is published as `reviewed`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

import requests

from hitl_detection.domain.images import is_image_key
from hitl_detection.domain.naming import human_loop_name, human_loop_name_prefix
from hitl_detection.domain.run_plan import RunPlan
from hitl_detection.domain.s3_uri import join_s3_uri, parse_s3_uri


@dataclass(frozen=True)
class RunOutcome:
    """What a run left behind, once its invariants hold."""

    plan: RunPlan | None
    records: list[dict[str, Any]] | None  # None: nothing was published
    summary: dict[str, Any] | None
    loops: dict[str, dict[str, Any]]  # the run's loops by name, as the reviewer API shows them

    def by_image(self) -> dict[str, dict[str, Any]]:
        """The records by image file name."""
        return {record["image_s3_uri"].rsplit("/", 1)[-1]: record for record in self.records or ()}

    def statuses(self) -> Counter[str]:
        return Counter(record["status"] for record in self.records or ())


def task_states(run) -> dict[str, str | None]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def tries(run, task_id: str) -> int:
    """How many tries the task took in the run."""
    return max(ti.try_number for ti in run.get_task_instances() if ti.task_id == task_id)


def xcom_of(run, task_id: str) -> Any:
    (ti,) = [ti for ti in run.get_task_instances() if ti.task_id == task_id]
    return ti.xcom_pull(task_ids=task_id)


def run_plan(run) -> RunPlan | None:
    data = xcom_of(run, "plan_run")
    return None if data is None else RunPlan.from_xcom(data)


def all_loops(stack) -> list[dict[str, Any]]:
    """Every loop the A2I emulator holds, whatever its status, with its task input."""
    answer = requests.get(f"{stack.emulator_url}/reviewer/loops", params={"status": "all"}, timeout=30)
    answer.raise_for_status()
    return answer.json()["loops"]


def deployed(stack) -> dict[str, list[str]]:
    """The endpoints, endpoint configs and models in moto, by name."""
    sagemaker = stack.client("sagemaker")
    return {
        "endpoints": sorted(e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]),
        "endpoint configs": sorted(
            c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]
        ),
        "models": sorted(m["ModelName"] for m in sagemaker.list_models()["Models"]),
    }


def input_images(stack, plan: RunPlan) -> list[str]:
    """The S3 URIs of every image under the run's input prefix."""
    pages = (
        stack.client("s3")
        .get_paginator("list_objects_v2")
        .paginate(Bucket=plan.config.input_bucket, Prefix=plan.config.input_prefix)
    )
    keys = (item["Key"] for page in pages for item in page.get("Contents", ()))
    return sorted(join_s3_uri(plan.config.input_bucket, key) for key in keys if is_image_key(key))


def published(stack, plan: RunPlan) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
    """The run's records and summary as published in S3; None when there is no results file."""
    s3 = stack.client("s3")
    bucket = plan.layout.bucket
    try:
        body = s3.get_object(Bucket=bucket, Key=plan.layout.results_key)["Body"].read().decode()
    except s3.exceptions.NoSuchKey:
        return None
    summary = json.loads(s3.get_object(Bucket=bucket, Key=plan.layout.summary_key)["Body"].read())
    return [json.loads(line) for line in body.splitlines() if line.strip()], summary


def check_run(stack, run, *, published_results: bool = True, kept: tuple[str, ...] = ()) -> RunOutcome:
    """The invariants of a run made by `dag.test()` (see `check_invariants`)."""
    return check_invariants(
        stack, run_plan(run), published_results=published_results, kept=kept, context=str(task_states(run))
    )


def check_invariants(
    stack,
    plan: RunPlan | None,
    *,
    published_results: bool = True,
    kept: tuple[str, ...] = (),
    context: str = "",
) -> RunOutcome:
    """Assert the invariants of a finished run (see the module) from its plan, the output of its
    first task (None when it failed); return what the run left behind.

    `published_results`: whether the run got as far as publishing (False: it failed earlier, and
    must have published nothing). `kept`: names of endpoints (and their configs and models) the
    run did not deploy, which stay. `context` goes into the messages (the task states).
    """
    leaked = {kind: [name for name in names if name not in kept] for kind, names in deployed(stack).items()}
    assert leaked == {"endpoints": [], "endpoint configs": [], "models": []}, f"left billing: {leaked}"

    if plan is None:  # refused before anything was planned: nothing may exist for it
        assert not published_results, f"the run has no plan: {context}"
        return RunOutcome(None, None, None, {})

    prefix = human_loop_name_prefix(plan.run_key)
    loops = {
        loop["HumanLoopName"]: loop for loop in all_loops(stack) if loop["HumanLoopName"].startswith(prefix)
    }
    per_image = Counter(loop["InputContent"]["taskObject"] for loop in loops.values())
    duplicates = {image: count for image, count in per_image.items() if count > 1}
    assert not duplicates, f"more than one loop for these images: {duplicates}"
    for name, loop in loops.items():
        image = loop["InputContent"]["taskObject"]
        assert name == human_loop_name(plan.run_key, parse_s3_uri(image)[1]), f"loop {name} of {image}"

    found = published(stack, plan)
    if not published_results:
        assert found is None, f"a run that failed before publishing published {plan.layout.results_key}"
        return RunOutcome(plan, None, None, loops)
    assert found is not None, f"nothing published under {plan.layout.uri}; {context}"
    records, summary = found

    images = input_images(stack, plan)
    recorded = Counter(record["image_s3_uri"] for record in records)
    assert sorted(recorded) == images, (
        f"images without a record: {sorted(set(images) - set(recorded))}; "
        f"records of no input image: {sorted(set(recorded) - set(images))}"
    )
    assert max(recorded.values()) == 1, (
        f"images with several records: {[i for i, n in recorded.items() if n > 1]}"
    )
    assert summary["images"] == len(records)
    assert sum(summary["by_status"].values()) == len(records)

    in_records: set[str] = set()
    for record in records:
        task = (record.get("review") or {}).get("task")
        if task is None:
            assert record["status"] in ("accepted", "error", "review_failed"), record
            continue
        in_records.add(task)
        image = record["image_s3_uri"]
        own = human_loop_name(plan.run_key, parse_s3_uri(image)[1])
        assert task == own, f"{image} names loop {task}; this run's loop of that image is {own}"
        if task not in loops:  # deleted in A2I: nothing to publish but the failure
            assert record["status"] == "review_failed", (
                f"{image}: loop {task} is gone, yet {record['status']}"
            )
            continue
        assert loops[task]["InputContent"]["taskObject"] == image, (
            f"loop {task} reviewed {loops[task]['InputContent']['taskObject']}, not {image}"
        )
        if loops[task]["HumanLoopStatus"] == "Completed":
            assert record["status"] == "reviewed", f"the answer of loop {task} was not published: {record}"
    unrecorded = sorted(set(loops) - set(in_records))
    assert not unrecorded, f"loops of this run in no record: {unrecorded}"
    return RunOutcome(plan, records, summary, loops)
