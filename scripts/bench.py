"""make bench: detect_and_review's detection speed side by side with a sequential loop in the blog's style.

    python scripts/bench.py                             # the default scenarios
    python scripts/bench.py --scenario 100:4            # 100 images, an endpoint serving 4 at once
    python scripts/bench.py --scenario 1000:4 --scenario 1000:16 --latency 0.1
    python scripts/bench.py --scenario 10000:4 --transform 10000   # and in transform mode

Per scenario, on a fresh local stand-in for AWS whose endpoint serves at most C InvokeEndpoint
requests at once (the rest queue), each taking `latency` seconds:

1. N generated images are uploaded, an Active A2I flow definition and one endpoint are created;
2. the sequential loop (plain boto3, one image at a time, as the blog's notebook does: GetObject,
   InvokeEndpoint, gate, StartHumanLoop) runs over the first K images (`--sequential-sample`);
3. the same loop in 2 x C threads on the same images: not a contender, the reference for how
   close to the bound any client gets on this machine and stand-in;
4. `detect_and_review` runs on all N images with `dag.test()` in this process, reusing the
   endpoint (nothing deployed), reviews answered by the stand-in's scripted reviewer.

Every loop is timed the same way, by botocore event handlers: from the first InvokeEndpoint to
the end of the last StartHumanLoop. The bound is N x latency / C: no client can do better.

5. in the scenarios of `--transform` N images (10,000 by default), `detect_and_review` again on the
   same images with inference `batch_transform`: it deploys its model (C / 4 instances, 4 requests
   each: MaxConcurrentTransforms), and the stand-in runs one transform job per content type with
   the same latency, at most instances x MaxConcurrentTransforms images at once each. Timed from
   the first job's TransformStartTime to the last one's TransformEndTime (the stand-in ends a job
   right after its last output), against N x latency / (instances x MaxConcurrentTransforms); and
   the bytes of image data the Airflow worker read (GetObject on the images), in both modes.

The tables go to stdout and the whole report to bench-output/bench.json. Measured, never asserted.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import contextlib
import ctypes
import gc
import importlib
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
OUTPUT = ROOT / "bench-output"
TEMPLATE = ROOT / "include" / "templates" / "a2i_bounding_box.liquid.html"

DEFAULT_SCENARIOS = ((1000, 4), (10000, 4), (1000, 16))
DEFAULT_TRANSFORM_IMAGES = (10000,)
DEFAULT_LATENCY = 0.05
DEFAULT_SEQUENTIAL_SAMPLE = 1000
CAPACITY_OPTION = "--endpoint-capacity"

# The gate of the sequential loop: the DAG's defaults (run_conf in scripts/demo.py).
THRESHOLD = 0.9
MIN_SCORE = 0.2
LABELS = ("car", "person", "bicycle", "bus")
CONTENT_TYPES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
PNG_EVERY = 10  # one image in ten is a PNG, so content types by extension are exercised

ENDPOINT_NAME = "hitl-bench-detector"
# The DAG run's loops under a flow definition of their own, so its ListHumanLoops sweeps page
# through no loop of the blog loops or the warm-up run.
FLOW_NAME = "hitl-bench-review"
OTHER_FLOW_NAME = "hitl-bench-other-loops"
IMAGE_PREFIX = "images/"
RSS_SAMPLE_SECONDS = 0.02
DRAIN_TIMEOUT_SECONDS = 120.0
WARM_UP_IMAGES = 10

A2I_SERVICE = "sagemaker-a2i-runtime"
INVOKE = "sagemaker-runtime.InvokeEndpoint"
GET_OBJECT = "s3.GetObject"
START_LOOP = f"{A2I_SERVICE}.StartHumanLoop"

# The targets of the issue.
TARGET_LATENCY = 0.05
BOUND_FACTOR = 1.5
SPEEDUP_AT_CAPACITY = {4: 5.0, 16: 15.0}
COLLECT_PUBLISH_PER_1000 = 15.0
MEMORY_GROWTH_FACTOR = 1.2
# RSS moves by allocator arenas: a task whose peak grows less than this is counted at this, so
# that 0.1 MiB against 0.2 MiB does not read as "twice the memory".
MEMORY_FLOOR_MIB = 1.0
SMALL, LARGE = 1000, 10000
TRANSFORM_BOUND_FACTOR = 1.5


# ---------------------------------------------------------------------------------------------
# The pure parts: the blog-style gate, targets, and the table (tested in tests/scripts/).


def needs_review(
    detections: Iterable[Mapping[str, Any]],
    *,
    threshold: float = THRESHOLD,
    min_score: float = MIN_SCORE,
    labels: Sequence[str] = LABELS,
) -> bool:
    """An image needs review when any detection of the run's labels scores in [min_score, threshold)."""
    return any(d["id"] in labels and min_score <= d["score"] < threshold for d in detections)


def confident_boxes(
    detections: Iterable[Mapping[str, Any]], *, threshold: float = THRESHOLD, labels: Sequence[str] = LABELS
) -> list[dict[str, Any]]:
    """The blog's `fix_boundingboxes`: the confident detections as crowd-bounding-box boxes."""
    return [
        {
            "label": d["id"],
            "left": d["left"],
            "top": d["top"],
            "width": d["right"] - d["left"],
            "height": d["bottom"] - d["top"],
        }
        for d in detections
        if d["id"] in labels and d["score"] >= threshold
    ]


def detections_of(answer: Any) -> list[dict[str, Any]]:
    """The GluonCV container's answer: a JSON list of {id, score, left, top, right, bottom}."""
    if not isinstance(answer, list):
        raise ValueError(f"the endpoint answered a {type(answer).__name__}, not a list of detections")
    return answer


def loop_input(image_s3_uri: str, detections: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The blog's InputContent: the confident boxes, the image, and the labels to pick from."""
    return {"initialValue": confident_boxes(detections), "taskObject": image_s3_uri, "labels": list(LABELS)}


def parse_scenario(text: str) -> tuple[int, int]:
    """`N:C` -> (images, capacity)."""
    try:
        images, capacity = (int(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"scenario {text!r} is not IMAGES:CAPACITY, e.g. 1000:4") from None
    if images < 1 or capacity < 1:
        raise argparse.ArgumentTypeError(f"scenario {text!r}: images and capacity must be at least 1")
    return images, capacity


def peak_growth(samples: Sequence[tuple[float, int]], start: float, end: float) -> int:
    """The highest RSS in [start, end] minus the RSS at `start` (the last sample before it), in bytes.

    `samples` are (time, rss) in time order."""
    if not samples:
        return 0
    times = [t for t, _ in samples]
    first = max(bisect.bisect_right(times, start) - 1, 0)
    last = bisect.bisect_right(times, end)
    baseline = samples[first][1]
    peak = max((rss for _, rss in samples[first:last]), default=baseline)
    return max(peak - baseline, 0)


def summarise_tasks(
    instances: Iterable[Mapping[str, Any]], samples: Sequence[tuple[float, int]]
) -> dict[str, dict[str, Any]]:
    """Per task id: its instances, their summed busy seconds, and the max peak RSS growth (MiB).

    `instances` carry task_id, start and end (epoch seconds, or None when never run)."""
    tasks: dict[str, dict[str, Any]] = {}
    for ti in instances:
        entry = tasks.setdefault(ti["task_id"], {"instances": 0, "busy_s": 0.0, "peak_mib": 0.0})
        entry["instances"] += 1
        if ti["start"] is None or ti["end"] is None:
            continue
        entry["busy_s"] += ti["end"] - ti["start"]
        growth = peak_growth(samples, ti["start"], ti["end"]) / 2**20
        entry["peak_mib"] = max(entry["peak_mib"], growth)
    for entry in tasks.values():
        entry["busy_s"] = round(entry["busy_s"], 3)
        entry["peak_mib"] = round(entry["peak_mib"], 2)
    return dict(sorted(tasks.items()))


def collect_publish(tasks: Mapping[str, Mapping[str, Any]]) -> tuple[list[str], float]:
    """The task ids starting with `collect` or `publish`, and their summed busy seconds."""
    ids = [task_id for task_id in tasks if task_id.startswith(("collect", "publish"))]
    return ids, round(sum(tasks[task_id]["busy_s"] for task_id in ids), 3)


def window_breakdown(
    instances: Iterable[Mapping[str, Any]], window: tuple[float, float] | None
) -> dict[str, Any] | None:
    """How the first-invoke-to-last-loop-start window splits: the task instances running in it and
    the seconds inside them, the rest being spent between task instances (dag.test's own loop)."""
    if window is None:
        return None
    start, end = window
    inside, count = 0.0, 0
    for ti in instances:
        if ti["start"] is None or ti["end"] is None:
            continue
        overlap = min(ti["end"], end) - max(ti["start"], start)
        if overlap > 0:
            inside += overlap
            count += 1
    return {
        "task_instances": count,
        "inside_tasks_s": round(inside, 3),
        "between_tasks_s": round(max(end - start - inside, 0.0), 3),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def derive(scenario: dict[str, Any]) -> dict[str, Any]:
    """Fill in what follows from the measurements: the bound, rates, ratios, per-1,000 figures."""
    images, capacity, latency = scenario["images"], scenario["capacity"], scenario["latency_s"]
    scenario["bound_s"] = images * latency / capacity
    sequential, dag = scenario["sequential"], scenario["dag"]
    sequential["images_per_s"] = ratio(sequential["images"], sequential["seconds"])
    parallel = scenario.get("parallel")
    if parallel is not None:
        parallel["images_per_s"] = ratio(parallel["images"], parallel["seconds"])
        parallel["ratio_to_bound"] = ratio(ratio(parallel["seconds"], parallel["images"]), latency / capacity)
    dag["images_per_s"] = ratio(images, dag["seconds"])
    dag["ratio_to_bound"] = ratio(dag["seconds"], scenario["bound_s"])
    dag["speedup_vs_sequential"] = ratio(dag["images_per_s"], sequential["images_per_s"])
    dag["a2i_calls_per_reviewed_image"] = ratio(sum(dag["a2i_calls"].values()), dag["reviewed_images"])
    ids, seconds = collect_publish(dag["tasks"])
    dag["collect_publish"] = {
        "task_ids": ids,
        "seconds": seconds,
        "seconds_per_1000_reviewed": ratio(seconds * 1000, dag["reviewed_images"]),
    }
    return scenario


def derive_transform(transform: dict[str, Any], images: int, latency: float) -> dict[str, Any]:
    """The transform run's figures: its jobs' span against the bound N x latency / (instances x
    MaxConcurrentTransforms), and the image bytes the worker read."""
    jobs = transform["jobs"]
    starts = [datetime.fromisoformat(job["started"]) for job in jobs if job.get("started")]
    ends = [datetime.fromisoformat(job["ended"]) for job in jobs if job.get("ended")]
    transform["jobs_s"] = (max(ends) - min(starts)).total_seconds() if starts and ends else None
    transform["bound_s"] = images * latency / (transform["instances"] * transform["concurrency"])
    transform["ratio_to_bound"] = ratio(transform["jobs_s"], transform["bound_s"])
    transform["image_bytes_per_image"] = ratio(transform["dag"]["image_bytes_read"], images)
    return transform


def find_scenario(
    scenarios: Sequence[Mapping[str, Any]], images: int, capacity: int, latency: float = TARGET_LATENCY
) -> Mapping[str, Any] | None:
    for scenario in scenarios:
        if (
            scenario["images"] == images
            and scenario["capacity"] == capacity
            and math.isclose(scenario["latency_s"], latency)
        ):
            return scenario
    return None


def _met(checks: Sequence[bool | None]) -> bool | None:
    """All met: True; any not met: False; else (something not measured) None."""
    if any(check is False for check in checks):
        return False
    return None if any(check is None for check in checks) or not checks else True


def _at_least(value: float | None, bar: float) -> bool | None:
    return None if value is None else value >= bar


def _at_most(value: float | None, bar: float) -> bool | None:
    return None if value is None else value <= bar


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _speed_target(scenarios: Sequence[Mapping[str, Any]], images: int, capacity: int) -> dict[str, Any]:
    speedup_bar = SPEEDUP_AT_CAPACITY[capacity]
    with_bound = capacity == 4
    name = f"capacity {capacity}, 50 ms, {images:,} images: " + (
        f"first invoke to last loop start within {BOUND_FACTOR}x the bound and " if with_bound else ""
    )
    name += f"at least {speedup_bar:g}x faster than the sequential loop"
    scenario = find_scenario(scenarios, images, capacity)
    if scenario is None:
        return {"target": name, "met": None, "detail": f"not measured (no scenario {images}:{capacity})"}
    dag, sequential = scenario["dag"], scenario["sequential"]
    checks = [_at_least(dag["speedup_vs_sequential"], speedup_bar)]
    detail = []
    if with_bound:
        checks.insert(0, _at_most(dag["ratio_to_bound"], BOUND_FACTOR))
        seconds = "-" if dag["seconds"] is None else f"{dag['seconds']:.1f} s"
        detail.append(f"{seconds} = {_x(dag['ratio_to_bound'])} the bound of {scenario['bound_s']:.1f} s")
    detail.append(
        f"{_x(dag['speedup_vs_sequential'])} the sequential loop ({_rate(dag['images_per_s'])} vs "
        f"{_rate(sequential['images_per_s'])} images/s{_sample_note(scenario)})"
    )
    parallel = scenario.get("parallel")
    if parallel and parallel.get("ratio_to_bound") is not None:
        detail.append(
            f"a parallel plain boto3 loop reached {_rate(parallel['images_per_s'])} images/s here"
            f" ({_x(parallel['ratio_to_bound'])} the bound)"
        )
    return {"target": name, "met": _met(checks), "detail": "; ".join(detail)}


def _collect_publish_target(scenarios: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    name = f"collect + publish under {COLLECT_PUBLISH_PER_1000:g} s per 1,000 reviewed images"
    checks, detail = [], []
    for scenario in scenarios:
        per_1000 = scenario["dag"]["collect_publish"]["seconds_per_1000_reviewed"]
        if per_1000 is None:
            continue
        checks.append(per_1000 < COLLECT_PUBLISH_PER_1000)
        detail.append(f"{_label(scenario)}: {per_1000:.1f} s")
    if not checks:
        return {"target": name, "met": None, "detail": "not measured (no run reviewed an image)"}
    return {"target": name, "met": _met(checks), "detail": "; ".join(detail)}


def _memory_target(scenarios: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    name = (
        f"peak memory of every task within {MEMORY_GROWTH_FACTOR}x from {SMALL:,} to {LARGE:,} images"
        f" (growths under {MEMORY_FLOOR_MIB:g} MiB count as {MEMORY_FLOOR_MIB:g} MiB)"
    )
    checks, detail = [], []
    for large in scenarios:
        if large["images"] != LARGE:
            continue
        small = find_scenario(scenarios, SMALL, large["capacity"], large["latency_s"])
        if small is None:
            continue
        small_tasks, large_tasks = small["dag"]["tasks"], large["dag"]["tasks"]
        growths = {
            task_id: max(large_tasks[task_id]["peak_mib"], MEMORY_FLOOR_MIB)
            / max(small_tasks[task_id]["peak_mib"], MEMORY_FLOOR_MIB)
            for task_id in sorted(set(small_tasks) & set(large_tasks))
        }
        over = {task_id: value for task_id, value in growths.items() if value > MEMORY_GROWTH_FACTOR}
        checks.append(bool(growths) and not over)
        worst = max(growths, key=growths.get) if growths else None
        shown = over or ({worst: growths[worst]} if worst else {})
        detail.append(
            f"C={large['capacity']}: "
            + ", ".join(
                f"{task_id} {small_tasks[task_id]['peak_mib']:.1f} -> {large_tasks[task_id]['peak_mib']:.1f}"
                f" MiB ({value:.2f}x)"
                for task_id, value in shown.items()
            )
            + ("" if over else " (the largest)")
        )
    if not checks:
        return {"target": name, "met": None, "detail": f"not measured (no {SMALL:,} and {LARGE:,} pair)"}
    return {"target": name, "met": _met(checks), "detail": "; ".join(detail)}


def _transform_targets(scenarios: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    speed = (
        f"transform mode, 50 ms, {LARGE:,} images: first job start to last job end within "
        f"{TRANSFORM_BOUND_FACTOR}x N x latency / (instances x MaxConcurrentTransforms)"
    )
    reads = f"transform mode, {LARGE:,} images: no image data read by the Airflow worker"
    scenario = next(
        (
            s
            for s in scenarios
            if s.get("transform") and s["images"] == LARGE and math.isclose(s["latency_s"], TARGET_LATENCY)
        ),
        None,
    )
    if scenario is None:
        missing = {"met": None, "detail": f"not measured (no {LARGE:,}-image scenario in transform mode)"}
        return [{"target": speed, **missing}, {"target": reads, **missing}]
    transform = scenario["transform"]
    jobs_s = "-" if transform["jobs_s"] is None else f"{transform['jobs_s']:.1f} s"
    speed_detail = (
        f"{jobs_s} = {_x(transform['ratio_to_bound'])} the bound of {transform['bound_s']:.1f} s "
        f"({transform['instances']} x {transform['concurrency']}; "
        f"{len(transform['jobs'])} jobs, one per content type)"
    )
    read = transform["dag"]["image_bytes_read"]
    endpoint_read = scenario["dag"].get("image_bytes_read")
    reads_detail = (
        f"{read:,} bytes in {transform['dag']['image_reads']:,} reads of image headers "
        f"({_num(transform['image_bytes_per_image'], 0)} an image), against "
        + ("-" if endpoint_read is None else f"{endpoint_read:,}")
        + " bytes read in endpoint mode"
    )
    return [
        {
            "target": speed,
            "met": _at_most(transform["ratio_to_bound"], TRANSFORM_BOUND_FACTOR),
            "detail": speed_detail,
        },
        {"target": reads, "met": read == 0, "detail": reads_detail},
    ]


def evaluate_targets(scenarios: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per target of the issue: {target, met (True, False or None: not measured), detail}."""
    return [
        _speed_target(scenarios, SMALL, 4),
        _speed_target(scenarios, LARGE, 4),
        _speed_target(scenarios, SMALL, 16),
        _collect_publish_target(scenarios),
        _memory_target(scenarios),
        *_transform_targets(scenarios),
    ]


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _label(scenario: Mapping[str, Any]) -> str:
    return f"{scenario['images']}:{scenario['capacity']}"


def _sample_note(scenario: Mapping[str, Any]) -> str:
    sample = scenario["sequential"]["images"]
    return f", sequential on the first {sample:,} images" if sample < scenario["images"] else ""


def format_table(scenarios: Sequence[Mapping[str, Any]]) -> str:
    """The scenarios side by side, one row each."""
    header = (
        "images",
        "C",
        "latency s",
        "bound s",
        "seq img/s (on n)",
        "par img/s",
        "par/bound",
        "DAG s",
        "DAG img/s",
        "DAG/bound",
        "speed-up",
        "task inst.",
        "A2I calls/rev.",
        "coll+pub s",
        "s/1k rev.",
        "state",
    )
    rows = [header]
    for s in scenarios:
        seq, dag, par = s["sequential"], s["dag"], s.get("parallel") or {}
        rows.append(
            (
                f"{s['images']:,}",
                str(s["capacity"]),
                f"{s['latency_s']:g}",
                _num(s["bound_s"]),
                f"{_rate(seq['images_per_s'])} ({seq['images']:,})",
                _rate(par.get("images_per_s")),
                _x(par.get("ratio_to_bound")),
                _num(dag["seconds"]),
                _rate(dag["images_per_s"]),
                _x(dag["ratio_to_bound"]),
                _x(dag["speedup_vs_sequential"]),
                str(dag["task_instances"]),
                _num(dag["a2i_calls_per_reviewed_image"], 2),
                _num(dag["collect_publish"]["seconds"]),
                _num(dag["collect_publish"]["seconds_per_1000_reviewed"]),
                str(dag["state"]),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [" | ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    notes = [
        f"{_label(s)}: the sequential loop ran on the first {s['sequential']['images']:,} of"
        f" {s['images']:,} images; its rate is measured on those"
        for s in scenarios
        if s["sequential"]["images"] < s["images"]
    ]
    if any(s.get("parallel") for s in scenarios):
        notes.append(
            "par: the blog's loop in 2 x C threads of plain boto3 on the same images as the sequential"
            " loop, the reference for what this machine and stand-in allow (par/bound: its time per image"
            " over latency / C)"
        )
    return "\n".join(lines + notes)


def format_transform_table(scenarios: Sequence[Mapping[str, Any]]) -> str:
    """The scenarios run in transform mode too: the jobs' span against their bound, and what the
    worker read of the images in each mode."""
    header = (
        "images",
        "latency s",
        "inst. x conc.",
        "jobs",
        "bound s",
        "jobs s",
        "jobs/bound",
        "DAG run s",
        "loops",
        "worker image bytes",
        "(endpoint mode)",
        "state",
    )
    rows = [header]
    for s in scenarios:
        transform = s.get("transform")
        if not transform:
            continue
        endpoint_read = s["dag"].get("image_bytes_read")
        rows.append(
            (
                f"{s['images']:,}",
                f"{s['latency_s']:g}",
                f"{transform['instances']} x {transform['concurrency']}",
                str(len(transform["jobs"])),
                _num(transform["bound_s"]),
                _num(transform["jobs_s"]),
                _x(transform["ratio_to_bound"]),
                _num(transform["dag"]["wall_s"]),
                str(transform["dag"]["reviewed_images"]),
                f"{transform['dag']['image_bytes_read']:,}",
                "-" if endpoint_read is None else f"{endpoint_read:,}",
                str(transform["dag"]["state"]),
            )
        )
    if len(rows) == 1:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [" | ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    lines.append(
        "transform mode: one job per content type, run at once; jobs s from the first TransformStartTime to "
        "the last TransformEndTime; worker image bytes: GetObject on the images by the DAG run's tasks"
    )
    return "\n".join(lines)


def format_tasks(scenario: Mapping[str, Any]) -> str:
    """The DAG run's tasks: instances, busy seconds, peak RSS growth."""
    dag = scenario["dag"]
    rows = [("task", "instances", "busy s", "peak MiB")]
    rows += [
        (task_id, str(t["instances"]), f"{t['busy_s']:.2f}", f"{t['peak_mib']:.1f}")
        for task_id, t in dag["tasks"].items()
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        f"{_label(scenario)} at {scenario['latency_s']:g} s: {dag['task_instances']} task instances,"
        f" {dag['reviewed_images']} loops started, collect + publish = "
        f"{' + '.join(dag['collect_publish']['task_ids']) or 'no such task'}"
    ]
    window = dag.get("window")
    if window:
        lines.append(
            f"first invoke to last loop start: {window['task_instances']} task instances,"
            f" {window['inside_tasks_s']:.1f} s inside them, {window['between_tasks_s']:.1f} s between them"
        )
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  " + "  ".join(cells))
    return "\n".join(lines)


def format_targets(targets: Sequence[Mapping[str, Any]]) -> str:
    verdicts = {True: "met", False: "NOT MET", None: "not measured"}
    return "\n".join(f"[{verdicts[t['met']]}] {t['target']}: {t['detail']}" for t in targets)


# ---------------------------------------------------------------------------------------------
# Measuring: AWS calls through botocore's events, and this process's memory.


class CallRecorder:
    """Counts every AWS operation of this process while active, and times (wall clock, as task
    instances are) the first InvokeEndpoint sent and the last StartHumanLoop answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.active = False
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.calls: collections.Counter[str] = collections.Counter()
            self.first_invoke: float | None = None
            self.last_invoke_end: float | None = None
            self.last_loop_started: float | None = None
            self.loops: set[str] = set()
            self.image_bytes = 0
            self.image_reads = 0

    def install(self) -> None:
        """On every botocore session created from now on: boto3's default one and every hook's."""
        import botocore.handlers

        botocore.handlers.BUILTIN_HANDLERS.extend(
            [
                ("before-parameter-build", self._before_parameter_build),
                ("before-call", self._before_call),
                ("after-call", self._after_call),
            ]
        )

    @staticmethod
    def _name(model) -> str:
        return f"{model.service_model.service_name}.{model.name}"

    def _before_parameter_build(self, params, model, context, **_) -> None:
        name = self._name(model)
        if name == START_LOOP:
            context["bench_loop_name"] = params.get("HumanLoopName")
        elif name == GET_OBJECT:
            context["bench_image_read"] = str(params.get("Key", "")).startswith(IMAGE_PREFIX)

    def _before_call(self, model, **_) -> None:
        if not self.active:
            return
        now = time.time()
        name = self._name(model)
        with self._lock:
            self.calls[name] += 1
            if name == INVOKE and self.first_invoke is None:
                self.first_invoke = now

    def _after_call(self, model, http_response, parsed, context, **_) -> None:
        if not self.active or http_response.status_code >= 300:
            return
        now = time.time()
        name = self._name(model)
        with self._lock:
            if name == GET_OBJECT and context.get("bench_image_read"):
                self.image_bytes += parsed.get("ContentLength") or 0
                self.image_reads += 1
            elif name == INVOKE:
                self.last_invoke_end = now
            elif name == START_LOOP:
                self.last_loop_started = now
                self.loops.add(context.get("bench_loop_name") or str(len(self.loops)))

    def window(self) -> tuple[float, float] | None:
        """(epoch seconds) the first InvokeEndpoint sent, the last StartHumanLoop answered (or the
        last InvokeEndpoint when no loop was started)."""
        end = self.last_loop_started or self.last_invoke_end
        return None if self.first_invoke is None or end is None else (self.first_invoke, end)

    def elapsed(self) -> float | None:
        window = self.window()
        return None if window is None else window[1] - window[0]

    def calls_of(self, service: str) -> dict[str, int]:
        prefix = f"{service}."
        return {name[len(prefix) :]: n for name, n in sorted(self.calls.items()) if name.startswith(prefix)}


class RssSampler:
    """This process's resident memory every 20 ms, as (epoch seconds, bytes)."""

    def __init__(self, interval: float = RSS_SAMPLE_SECONDS) -> None:
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def rss(self) -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * self._page

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), self.rss()))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.time(), self.rss()))


# ---------------------------------------------------------------------------------------------
# The world of a scenario: the stand-in, images, a flow definition, one endpoint.


def import_first(name: str, modules: Sequence[str]) -> Any:
    """`name` from the first of `modules` that has it (local_aws is being reorganised)."""
    for module in modules:
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"none of {', '.join(modules)} has {name}")


def stack_has_option(option: str) -> bool:
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    result = subprocess.run(
        [sys.executable, "-m", "local_aws", "--help"], capture_output=True, text=True, env=env, cwd=ROOT
    )
    return option in result.stdout


class ImageCache:
    """Generated images on disk, made once per bench run and uploaded to each scenario's stand-in."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.generate = import_first("generate_image", ["local_aws.actors.samples", "local_aws.samples"])

    @staticmethod
    def key(index: int) -> str:
        return f"{IMAGE_PREFIX}bench-{index:06d}.{'png' if index % PNG_EVERY == PNG_EVERY - 1 else 'jpg'}"

    def body(self, index: int) -> bytes:
        key = self.key(index)
        path = self.directory / key.rsplit("/", 1)[-1]
        if not path.exists():
            body, _truth = self.generate(index, "png" if key.endswith(".png") else "jpeg")
            path.write_bytes(body)
            return body
        return path.read_bytes()

    def total_bytes(self, count: int) -> int:
        return sum(len(self.body(index)) for index in range(count))

    def upload(self, s3, bucket: str, count: int) -> list[str]:
        keys = [self.key(index) for index in range(count)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(
                pool.map(lambda i: s3.put_object(Bucket=bucket, Key=keys[i], Body=self.body(i)), range(count))
            )
        return keys


def create_endpoint(sagemaker, name: str, capacity: int) -> None:
    """The endpoint both contenders use, with as many instances as serve `capacity` requests at once
    at the DAG's default requests per instance, so that the run's plan sizes detection to the
    stand-in's capacity, as it would from a real endpoint's instance count."""
    from hitl_detection.operators.plan import DEFAULT_CONCURRENCY_PER_INSTANCE
    from local_aws.workflow import create_endpoint as create_stand_in_endpoint

    instances = max(1, capacity // DEFAULT_CONCURRENCY_PER_INSTANCE)
    create_stand_in_endpoint(sagemaker, name, instance_count=instances)
    status = sagemaker.describe_endpoint(EndpointName=name)["EndpointStatus"]
    if status != "InService":
        raise RuntimeError(f"endpoint {name} is {status}, not InService")


def wait_for_reviewer(stack, timeout: float = DRAIN_TIMEOUT_SECONDS) -> int:
    """Wait until the scripted reviewer answered every loop; returns how many were still pending."""
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(
            f"{stack.emulator_url}/reviewer/loops?status=pending", timeout=30
        ) as answer:
            pending = len(json.load(answer)["loops"])
        if not pending or time.monotonic() > deadline:
            return pending
        time.sleep(0.5)


# ---------------------------------------------------------------------------------------------
# The contenders.


def run_blog_loop(
    stack, bucket: str, keys: Sequence[str], flow_arn: str, recorder: CallRecorder, threads: int = 1
) -> dict:
    """The blog's notebook per image: GetObject, InvokeEndpoint, gate, StartHumanLoop. With one
    thread, the sequential loop; with more, the reference parallel loop (plain boto3 in a pool)."""
    from botocore.config import Config

    config = Config(max_pool_connections=max(threads, 10))
    s3 = stack.client("s3", config)
    runtime = stack.client("sagemaker-runtime", config)
    a2i = stack.client("sagemaker-a2i-runtime", config)

    def process(key: str) -> bool:
        """False when the endpoint's answer is not a list of detections."""
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        content_type = CONTENT_TYPES[key[key.rfind(".") :].lower()]
        answer = runtime.invoke_endpoint(
            EndpointName=ENDPOINT_NAME, ContentType=content_type, Accept="application/json", Body=body
        )
        try:
            detections = detections_of(json.loads(answer["Body"].read()))
        except ValueError:
            return False
        if needs_review(detections):
            a2i.start_human_loop(
                HumanLoopName=str(uuid.uuid4()),
                FlowDefinitionArn=flow_arn,
                HumanLoopInput={"InputContent": json.dumps(loop_input(f"s3://{bucket}/{key}", detections))},
            )
        return True

    recorder.reset()
    recorder.active = True
    try:
        if threads == 1:
            answered = [process(key) for key in keys]
        else:
            with ThreadPoolExecutor(max_workers=threads) as pool:
                answered = list(pool.map(process, keys))
    finally:
        recorder.active = False
    return {
        "images": len(keys),
        "threads": threads,
        "seconds": recorder.elapsed(),
        "loops_started": len(recorder.loops),
        "errors": answered.count(False),
    }


def warm_up(conf: dict) -> float:
    """Pay what dag.test() pays once per process (its in-process execution API server, the task
    runner's and the operators' lazy imports) on a run of a few images before anything is measured,
    so that it lands on no scenario's first task."""
    started = time.perf_counter()
    run = parse_dag().test(run_conf=conf | {"max_images": WARM_UP_IMAGES})
    print(f"  warm-up run on {WARM_UP_IMAGES} images: {run.get_state()}", flush=True)
    return round(time.perf_counter() - started, 2)


def release_free_memory() -> None:
    """Return what earlier runs freed to the OS, so a run's RSS growth is its own (outside any timing)."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def parse_dag():
    """detect_and_review freshly parsed: `dag.test(run_conf=...)` leaves its conf in the DAG's params."""
    from airflow.dag_processing.dagbag import DagBag

    dags = DagBag(dag_folder=str(ROOT / "dags"))
    if dags.import_errors:
        raise SystemExit(f"DAG import errors: {dags.import_errors}")
    return dags.get_dag("detect_and_review")


def run_dag(conf: dict, recorder: CallRecorder) -> dict:
    """detect_and_review with dag.test() in this process, timed and counted through botocore."""
    dag = parse_dag()
    release_free_memory()
    recorder.reset()
    recorder.active = True
    started = time.perf_counter()
    error = None
    run = None
    with RssSampler() as sampler:
        try:
            run = dag.test(run_conf=conf)
        except Exception as exc:  # a broken DAG is a result of the bench, not its crash
            error = f"{type(exc).__name__}: {exc}"
        finally:
            recorder.active = False
    wall = time.perf_counter() - started
    instances = []
    detected = None
    if run is not None:
        for ti in run.get_task_instances():
            instances.append(
                {
                    "task_id": ti.task_id,
                    "start": ti.start_date.timestamp() if ti.start_date else None,
                    "end": ti.end_date.timestamp() if ti.end_date else None,
                }
            )
            if ti.task_id == "detect_objects" and detected is None:
                detected = ti.xcom_pull(task_ids="detect_objects")
    return {
        "seconds": recorder.elapsed(),
        "wall_s": round(wall, 2),
        "state": str(run.get_state()) if run is not None else f"error ({error})",
        "task_instances": len(instances),
        "tasks": summarise_tasks(instances, sampler.samples),
        "window": window_breakdown(instances, recorder.window()),
        "a2i_calls": recorder.calls_of(A2I_SERVICE),
        "aws_calls": dict(sorted(recorder.calls.items())),
        "reviewed_images": len(recorder.loops),
        "invocations": recorder.calls[INVOKE],
        "image_bytes_read": recorder.image_bytes,
        "image_reads": recorder.image_reads,
        "detected": detected,
        "rss_mib": {
            "start": round(sampler.samples[0][1] / 2**20, 1),
            "peak": round(max(rss for _, rss in sampler.samples) / 2**20, 1),
        },
    }


def run_scenario(
    images: int,
    capacity: int,
    latency: float,
    sequential_sample: int,
    cache: ImageCache,
    recorder: CallRecorder,
    warm: bool,
    transform: bool = False,
) -> dict:
    import demo

    from local_aws.stack import start_stack

    create_active_flow_definition = import_first("create_active_flow_definition", ["local_aws.workflow"])
    print(f"\n== {images:,} images, endpoint capacity {capacity}, latency {latency:g} s", flush=True)
    stack_args = ["--auto-review", "--detector-latency", str(latency), CAPACITY_OPTION, str(capacity)]
    stack_args += ["--flow-activation-seconds", "0.1"]
    with start_stack(*stack_args) as stack:
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = stack.conn_uri_env
        from botocore.config import Config

        s3 = stack.client("s3", Config(max_pool_connections=16))
        s3.create_bucket(Bucket=demo.BUCKET)
        started = time.monotonic()
        keys = cache.upload(s3, demo.BUCKET, images)
        print(f"  {images:,} images generated and uploaded in {time.monotonic() - started:.1f} s", flush=True)
        sagemaker = stack.client("sagemaker")
        flow_arn, other_flow_arn = (
            create_active_flow_definition(
                sagemaker,
                name=name,
                template=TEMPLATE.read_text(),
                s3_output_path=f"s3://{demo.BUCKET}/a2i-output/",
            )
            for name in (FLOW_NAME, OTHER_FLOW_NAME)
        )
        create_endpoint(sagemaker, ENDPOINT_NAME, capacity)

        conf = demo.run_conf(review_backend="a2i", flow_definition_arn=flow_arn) | {
            "endpoint_name": ENDPOINT_NAME,
            "max_images": None,
        }
        warm_up_s = None if warm else warm_up(conf | {"flow_definition_arn": other_flow_arn})

        sample = keys[: min(sequential_sample, images)]
        sequential = run_blog_loop(stack, demo.BUCKET, sample, other_flow_arn, recorder)
        print(
            f"  sequential loop: {len(sample):,} images in {_num(sequential['seconds'])} s,"
            f" {sequential['loops_started']} loops started",
            flush=True,
        )
        wait_for_reviewer(stack)
        parallel = run_blog_loop(stack, demo.BUCKET, sample, other_flow_arn, recorder, threads=2 * capacity)
        print(
            f"  reference parallel loop ({2 * capacity} threads): {len(sample):,} images in"
            f" {_num(parallel['seconds'])} s",
            flush=True,
        )
        pending = wait_for_reviewer(stack)
        if pending:
            print(f"  the scripted reviewer still had {pending} loops pending after its drain", flush=True)

        dag = run_dag(conf, recorder)
        print(
            f"  detect_and_review: {dag['state']}, first invoke to last loop start {_num(dag['seconds'])} s"
            f" (run {dag['wall_s']:.1f} s), {dag['reviewed_images']} loops started",
            flush=True,
        )
        if dag["invocations"] != images:
            print(
                f"  WARNING: the run sent {dag['invocations']} InvokeEndpoint for {images} images", flush=True
            )
        if len(sample) == images and sequential["loops_started"] != dag["reviewed_images"]:
            print(
                f"  WARNING: on the same images the sequential loop started {sequential['loops_started']}"
                f" loops and the DAG {dag['reviewed_images']}: their gates disagree",
                flush=True,
            )
        transformed = None
        if transform:
            wait_for_reviewer(stack)
            transformed = derive_transform(run_transform(conf, capacity, recorder), images, latency)
            print(
                f"  detect_and_review in transform mode: {transformed['dag']['state']}, jobs"
                f" {_num(transformed['jobs_s'])} s for a bound of {transformed['bound_s']:.1f} s"
                f" (run {transformed['dag']['wall_s']:.1f} s), the worker read"
                f" {transformed['dag']['image_bytes_read']:,} bytes of images"
                f" (endpoint mode: {dag['image_bytes_read']:,})",
                flush=True,
            )
    scenario = {
        "images": images,
        "capacity": capacity,
        "latency_s": latency,
        "image_bytes": cache.total_bytes(images),
        "stack_startup_s": round(stack.startup_seconds or 0, 2),
        "dag_test_warm_up_s": warm_up_s,
        "sequential": sequential,
        "parallel": parallel,
        "dag": dag,
    }
    if transformed:
        scenario["transform"] = transformed
    return derive(scenario)


def run_transform(conf: dict, capacity: int, recorder: CallRecorder) -> dict:
    """detect_and_review on the same images with inference batch_transform: its own model, on as many
    instances as the endpoint has, each sent the DAG's requests per instance at once."""
    from hitl_detection.operators.plan import DEFAULT_CONCURRENCY_PER_INSTANCE

    instances = max(1, capacity // DEFAULT_CONCURRENCY_PER_INSTANCE)
    transform_conf = conf | {
        "endpoint_name": None,
        "inference": "batch_transform",
        "instance_count": instances,
    }
    dag = run_dag(transform_conf, recorder)
    jobs = (dag.get("detected") or {}).get("transform_jobs", [])
    return {"instances": instances, "concurrency": DEFAULT_CONCURRENCY_PER_INSTANCE, "jobs": jobs, "dag": dag}


def parse_times() -> dict | None:
    import parse_time

    try:
        return parse_time.measure()
    except parse_time.ParseError as error:
        print(f"parse times not measured: the reference DAG does not parse: {error}", file=sys.stderr)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenario",
        action="append",
        type=parse_scenario,
        metavar="N:C",
        help="N images on an endpoint serving C requests at once; repeatable (default: "
        + ", ".join(f"{n}:{c}" for n, c in DEFAULT_SCENARIOS)
        + ")",
    )
    parser.add_argument(
        "--latency", type=float, default=DEFAULT_LATENCY, help="seconds each InvokeEndpoint takes (0.05)"
    )
    parser.add_argument(
        "--sequential-sample",
        type=int,
        default=DEFAULT_SEQUENTIAL_SAMPLE,
        metavar="K",
        help="run the sequential loop over the first K images only when there are more (1000)",
    )
    parser.add_argument(
        "--transform",
        action="append",
        type=int,
        metavar="N",
        help="in the scenarios of N images, run detect_and_review in transform mode too; repeatable"
        f" (default: {', '.join(str(n) for n in DEFAULT_TRANSFORM_IMAGES)})",
    )
    parser.add_argument("--no-transform", action="store_true", help="run no scenario in transform mode")
    parser.add_argument("--no-parse-time", action="store_true", help="skip the DAG files' parse times")
    args = parser.parse_args(argv)
    if args.latency <= 0 or args.sequential_sample < 1:
        parser.error("--latency must be positive and --sequential-sample at least 1")
    scenarios = args.scenario or list(DEFAULT_SCENARIOS)
    transform_images = set() if args.no_transform else set(args.transform or DEFAULT_TRANSFORM_IMAGES)
    # The DAG waits for a transform job looking every second (60 by default), so that its run time
    # is the job's, not the poll's.
    os.environ.setdefault("AIRFLOW__HITL_DETECTION__TRANSFORM_POLL_SECONDS", "1")

    if not stack_has_option(CAPACITY_OPTION):
        print(
            f"bench: the local stand-in has no {CAPACITY_OPTION} option (`python -m local_aws --help` does"
            " not list it), so its endpoint would serve any number of requests at once and the bound"
            " N x latency / C would mean nothing. That option is being added to local_aws: run the bench"
            " once it has landed.",
            file=sys.stderr,
        )
        return 2

    sys.path.insert(0, str(SCRIPTS))
    import demo

    airflow_home = tempfile.TemporaryDirectory(prefix="hitl-bench-airflow-")
    demo.prepare_airflow_environment(airflow_home.name)
    recorder = CallRecorder()
    recorder.install()
    demo.load_dags()  # a migrated metadata database, and the DAG files parse
    results = []
    with airflow_home, tempfile.TemporaryDirectory(prefix="hitl-bench-images-") as images_dir:
        cache = ImageCache(Path(images_dir))
        for images, capacity in scenarios:
            scenario = run_scenario(
                images,
                capacity,
                args.latency,
                args.sequential_sample,
                cache,
                recorder,
                warm=bool(results),
                transform=images in transform_images,
            )
            results.append(scenario)

    targets = evaluate_targets(results)
    parse = None if args.no_parse_time else parse_times()
    report = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "latency_s": args.latency,
        "sequential_sample": args.sequential_sample,
        "scenarios": results,
        "targets": targets,
        "parse_time": parse,
    }
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / "bench.json").write_text(json.dumps(report, indent=2) + "\n")

    print()
    print(format_table(results))
    transform_table = format_transform_table(results)
    if transform_table:
        print()
        print(transform_table)
    for scenario in results:
        print()
        print(format_tasks(scenario))
    print()
    print(format_targets(targets))
    if parse is not None:
        import parse_time

        print()
        print(parse_time.format_times(parse))
    print(f"\nThe whole report: {(OUTPUT / 'bench.json').relative_to(ROOT)}")
    states = [s["dag"]["state"] for s in results] + [
        s["transform"]["dag"]["state"] for s in results if "transform" in s
    ]
    return 0 if all(state == "success" for state in states) else 1


if __name__ == "__main__":
    sys.exit(main())
