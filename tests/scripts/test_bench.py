"""The pure parts of scripts/bench.py on fixed inputs: the sequential loop's gate, the targets, the table.

No stand-in, no DAG run and no timing: what the bench measures is never asserted.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

BENCH_PATH = Path(__file__).resolve().parents[2] / "scripts" / "bench.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_under_test", BENCH_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


def detection(label: str, score: float, left=10, top=20, right=50, bottom=80) -> dict:
    return {"id": label, "score": score, "left": left, "top": top, "right": right, "bottom": bottom}


def scenario(
    images: int,
    capacity: int,
    *,
    sequential: tuple[int, float | None] = (100, 6.0),
    parallel: tuple[int, float | None] | None = (100, 2.0),
    dag_seconds: float | None = 15.0,
    reviewed: int = 400,
    tasks: dict | None = None,
    a2i_calls: dict | None = None,
    latency: float = 0.05,
) -> dict:
    tasks = tasks or {
        "collect_reviews": {"instances": 40, "busy_s": 3.0, "peak_mib": 2.0},
        "detect_objects": {"instances": 40, "busy_s": 14.0, "peak_mib": 5.0},
        "publish_results": {"instances": 1, "busy_s": 1.0, "peak_mib": 3.0},
    }
    return bench.derive(
        {
            "images": images,
            "capacity": capacity,
            "latency_s": latency,
            "sequential": {"images": sequential[0], "seconds": sequential[1], "loops_started": 40},
            "parallel": parallel and {"images": parallel[0], "seconds": parallel[1], "threads": 2 * capacity},
            "dag": {
                "seconds": dag_seconds,
                "state": "success",
                "task_instances": sum(t["instances"] for t in tasks.values()),
                "tasks": tasks,
                "a2i_calls": a2i_calls if a2i_calls is not None else {"StartHumanLoop": reviewed},
                "reviewed_images": reviewed,
            },
        }
    )


def transform(
    images: int = 10000,
    *,
    started: str = "2026-12-04T10:00:00+00:00",
    ended: str = "2026-12-04T10:02:10+00:00",
    image_bytes_read: int = 0,
    latency: float = 0.05,
) -> dict:
    """A transform run of `images`: a jpeg job over that span and a png job inside it."""
    jobs = [
        {"name": "hitl-x-jpeg-1", "status": "Completed", "started": started, "ended": ended},
        {"name": "hitl-x-png-1", "status": "Completed", "started": started, "ended": started},
    ]
    dag = {"state": "success", "wall_s": 170.0, "reviewed_images": 4000, "image_bytes_read": image_bytes_read}
    dag["image_reads"] = images if image_bytes_read else 0
    return bench.derive_transform(
        {"instances": 1, "concurrency": 4, "jobs": jobs, "dag": dag}, images, latency
    )


def verdicts(scenarios) -> list:
    return [target["met"] for target in bench.evaluate_targets(scenarios)]


# The gate of the sequential loop


@pytest.mark.parametrize(
    ("detections", "expected"),
    [
        ([], False),
        ([detection("car", 0.95), detection("person", 0.91)], False),  # all confident
        ([detection("car", 0.95), detection("person", 0.5)], True),  # one uncertain
        ([detection("bicycle", 0.2)], True),  # min_score is in the uncertain band
        ([detection("bus", 0.9)], False),  # threshold is confident
        ([detection("car", 0.19)], False),  # noise under min_score
        ([detection("dog", 0.5), detection("fire hydrant", 0.3)], False),  # other labels
    ],
)
def test_an_image_needs_review_when_a_detection_of_the_labels_is_uncertain(detections, expected):
    assert bench.needs_review(detections) is expected


def test_the_loop_input_carries_the_confident_boxes_of_the_labels_in_the_blog_format():
    detections = [
        detection("car", 0.97, 10, 20, 110, 70),
        detection("person", 0.5),
        detection("dog", 0.99),
    ]

    content = bench.loop_input("s3://bucket/images/a.jpg", detections)

    assert content == {
        "initialValue": [{"label": "car", "left": 10, "top": 20, "width": 100, "height": 50}],
        "taskObject": "s3://bucket/images/a.jpg",
        "labels": ["car", "person", "bicycle", "bus"],
    }


def test_the_gluoncv_answer_is_a_list_of_detections():
    assert bench.detections_of([detection("car", 0.5)]) == [detection("car", 0.5)]
    for wrong in ("oops", {"prediction": []}):
        with pytest.raises(ValueError, match="not a list"):
            bench.detections_of(wrong)


def test_scenarios_are_images_colon_capacity():
    assert bench.parse_scenario("1000:4") == (1000, 4)
    for bad in ("1000", "a:4", "0:4", "10:0", "1:2:3"):
        with pytest.raises(argparse.ArgumentTypeError):
            bench.parse_scenario(bad)


# What follows from the measurements


def test_derived_figures():
    s = scenario(1000, 4, sequential=(100, 6.0), dag_seconds=15.0, reviewed=400)

    assert s["bound_s"] == pytest.approx(12.5)
    assert s["sequential"]["images_per_s"] == pytest.approx(100 / 6)
    assert s["parallel"]["images_per_s"] == pytest.approx(50.0)
    assert s["parallel"]["ratio_to_bound"] == pytest.approx(1.6)  # 20 ms an image against 12.5 ms
    assert s["dag"]["images_per_s"] == pytest.approx(1000 / 15)
    assert s["dag"]["ratio_to_bound"] == pytest.approx(1.2)
    assert s["dag"]["speedup_vs_sequential"] == pytest.approx(4.0)
    assert s["dag"]["a2i_calls_per_reviewed_image"] == pytest.approx(1.0)
    assert s["dag"]["collect_publish"] == {
        "task_ids": ["collect_reviews", "publish_results"],
        "seconds": 4.0,
        "seconds_per_1000_reviewed": pytest.approx(10.0),
    }


def test_a_run_that_never_invoked_leaves_its_rates_unmeasured():
    s = scenario(100, 4, dag_seconds=None, reviewed=0, a2i_calls={})

    assert s["dag"]["images_per_s"] is None
    assert s["dag"]["ratio_to_bound"] is None
    assert s["dag"]["speedup_vs_sequential"] is None
    assert s["dag"]["a2i_calls_per_reviewed_image"] is None
    assert s["dag"]["collect_publish"]["seconds_per_1000_reviewed"] is None


def test_peak_growth_is_over_the_rss_at_the_start():
    samples = [(0.0, 100), (1.0, 150), (2.0, 400), (3.0, 120), (4.0, 900)]

    assert bench.peak_growth(samples, 1.5, 3.5) == 250  # baseline 150 (sampled at 1.0), peak 400
    assert bench.peak_growth(samples, 3.0, 3.5) == 0
    assert bench.peak_growth([], 0, 1) == 0


def test_tasks_are_summed_over_instances_and_peak_is_their_max():
    mib = 2**20
    samples = [(0.0, 10 * mib), (1.0, 13 * mib), (2.0, 10 * mib), (3.0, 11 * mib), (4.0, 10 * mib)]
    instances = [
        {"task_id": "detect_objects", "start": 0.5, "end": 1.5},
        {"task_id": "detect_objects", "start": 2.5, "end": 3.5},
        {"task_id": "plan_run", "start": 3.6, "end": 3.9},
        {"task_id": "never_ran", "start": None, "end": None},
    ]

    tasks = bench.summarise_tasks(instances, samples)

    assert tasks == {
        "detect_objects": {"instances": 2, "busy_s": 2.0, "peak_mib": 3.0},
        "never_ran": {"instances": 1, "busy_s": 0.0, "peak_mib": 0.0},
        "plan_run": {"instances": 1, "busy_s": 0.3, "peak_mib": 0.0},
    }


def test_the_window_splits_into_time_inside_task_instances_and_between_them():
    instances = [
        {"task_id": "plan_run", "start": 0.0, "end": 1.0},  # before the window
        {"task_id": "detect_objects", "start": 1.5, "end": 4.0},  # starts before the first invoke
        {"task_id": "start_reviews", "start": 4.5, "end": 6.0},
        {"task_id": "never_ran", "start": None, "end": None},
    ]

    assert bench.window_breakdown(instances, (2.0, 6.0)) == {
        "task_instances": 2,
        "inside_tasks_s": 3.5,
        "between_tasks_s": 0.5,
    }
    assert bench.window_breakdown(instances, None) is None


# The targets of the issue


def test_every_target_met():
    scenarios = [
        scenario(1000, 4, sequential=(1000, 100.0), dag_seconds=13.0),  # 1.04x the bound, 7.7x faster
        scenario(10000, 4, sequential=(1000, 100.0), dag_seconds=130.0, reviewed=4000),
        scenario(1000, 16, sequential=(1000, 100.0), dag_seconds=3.5),  # 28.6x faster
    ]
    scenarios[1]["transform"] = transform()  # 130 s for a bound of 125 s, no image read

    assert verdicts(scenarios) == [True] * 7


def test_the_bound_and_the_speed_up_are_both_needed():
    too_slow_for_the_bound = scenario(1000, 4, sequential=(1000, 100.0), dag_seconds=19.0)
    not_faster_enough = scenario(1000, 4, sequential=(1000, 50.0), dag_seconds=13.0)

    assert verdicts([too_slow_for_the_bound])[0] is False  # 1.52x the bound, 5.3x faster
    assert verdicts([not_faster_enough])[0] is False  # 1.04x the bound, 3.8x faster
    detail = bench.evaluate_targets([not_faster_enough])[0]["detail"]
    assert "1.04x the bound of 12.5 s" in detail
    assert "3.85x the sequential loop" in detail
    assert "a parallel plain boto3 loop reached 50.0 images/s here (1.60x the bound)" in detail


def test_targets_of_scenarios_not_run_are_not_measured():
    targets = bench.evaluate_targets([scenario(100, 4, latency=0.05)])

    assert [t["met"] for t in targets[:3]] == [None, None, None]
    assert targets[0]["detail"] == "not measured (no scenario 1000:4)"
    assert targets[4]["met"] is None  # no 1,000 / 10,000 pair
    assert [t["met"] for t in targets[5:]] == [None, None]
    assert targets[5]["detail"] == "not measured (no 10,000-image scenario in transform mode)"


def test_another_latency_is_not_the_targets_latency():
    assert verdicts([scenario(1000, 4, latency=0.1, sequential=(1000, 110.0), dag_seconds=26.0)])[0] is None


def test_collect_and_publish_per_1000_reviewed_images():
    slow = scenario(
        1000, 4, reviewed=100, tasks={"collect_reviews": {"instances": 4, "busy_s": 2.0, "peak_mib": 1.0}}
    )

    target = bench.evaluate_targets([slow])[3]

    assert target["met"] is False  # 2 s for 100 reviewed images: 20 s per 1,000
    assert target["detail"] == "1000:4: 20.0 s"


def test_memory_of_every_task_must_stay_within_1_2x_from_1000_to_10000_images():
    def tasks(detect_mib, publish_mib):
        return {
            "detect_objects": {"instances": 1, "busy_s": 1.0, "peak_mib": detect_mib},
            "publish_results": {"instances": 1, "busy_s": 1.0, "peak_mib": publish_mib},
        }

    flat = [scenario(1000, 4, tasks=tasks(5.0, 0.2)), scenario(10000, 4, tasks=tasks(5.5, 0.9))]
    growing = [scenario(1000, 4, tasks=tasks(5.0, 2.0)), scenario(10000, 4, tasks=tasks(5.5, 12.0))]

    # Under the 1 MiB floor, 0.2 -> 0.9 MiB is noise, not 4.5x.
    assert bench.evaluate_targets(flat)[4]["met"] is True
    memory = bench.evaluate_targets(growing)[4]
    assert memory["met"] is False
    assert memory["detail"] == "C=4: publish_results 2.0 -> 12.0 MiB (6.00x)"


def test_a_transform_run_is_timed_from_the_first_job_start_to_the_last_job_end_against_its_bound():
    slow = transform(ended="2026-12-04T10:03:20+00:00", image_bytes_read=81_920_000)
    large = scenario(10000, 4)
    large["dag"]["image_bytes_read"] = 400_000_000
    large["transform"] = slow

    speed, reads = bench.evaluate_targets([large])[5:]

    assert (slow["jobs_s"], slow["bound_s"], slow["image_bytes_per_image"]) == (200.0, 125.0, 8192.0)
    assert speed["met"] is False  # 1.6x the bound
    assert speed["detail"] == "200.0 s = 1.60x the bound of 125.0 s (1 x 4; 2 jobs, one per content type)"
    assert reads["met"] is False
    assert reads["detail"] == (
        "81,920,000 bytes in 10,000 reads of image headers (8192 an image), against 400,000,000 bytes read"
        " in endpoint mode"
    )
    assert transform(started="", ended="")["jobs_s"] is None  # a job that never started


def test_the_transform_table_has_a_row_per_scenario_run_in_transform_mode():
    large = scenario(10000, 4)
    large["dag"]["image_bytes_read"] = 400_000_000
    large["transform"] = transform(image_bytes_read=81_920_000)

    lines = bench.format_transform_table([scenario(1000, 4), large]).splitlines()

    assert [cell.strip() for cell in lines[2].split(" | ")] == [
        "10,000",
        "0.05",
        "1 x 4",
        "2",
        "125.0",
        "130.0",
        "1.04x",
        "170.0",
        "4000",
        "81,920,000",
        "400,000,000",
        "success",
    ]
    assert len(lines) == 4
    assert bench.format_transform_table([scenario(1000, 4)]) == ""


# The printed report


def test_the_table_has_a_row_per_scenario_and_says_when_the_sequential_loop_was_sampled():
    scenarios = [
        scenario(1000, 4, sequential=(1000, 60.0), dag_seconds=13.0),
        scenario(10000, 4, sequential=(1000, 60.0), parallel=None, dag_seconds=None),
    ]

    lines = bench.format_table(scenarios).splitlines()

    assert lines[0].split(" | ")[0].strip() == "images"
    assert set(lines[1]) <= {"-", "+"}
    first, second = (line.split(" | ") for line in lines[2:4])
    assert [cell.strip() for cell in first] == [
        "1,000",
        "4",
        "0.05",
        "12.5",
        "16.7 (1,000)",
        "50.0",
        "1.60x",
        "13.0",
        "76.9",
        "1.04x",
        "4.62x",
        "81",
        "1.00",
        "4.0",
        "10.0",
        "success",
    ]
    assert [second[5].strip(), second[7].strip()] == ["-", "-"]  # no parallel loop, DAG never measured
    assert len({len(line) for line in lines[:4]}) == 1  # aligned
    assert lines[4] == (
        "10000:4: the sequential loop ran on the first 1,000 of 10,000 images; its rate is measured on those"
    )
    assert lines[5].startswith("par: the blog's loop in 2 x C threads")


def test_the_task_table_and_the_target_lines():
    s = scenario(1000, 4)

    s["dag"]["window"] = {"task_instances": 80, "inside_tasks_s": 12.0, "between_tasks_s": 3.0}
    tasks = bench.format_tasks(s).splitlines()
    targets = bench.format_targets(bench.evaluate_targets([s]))

    assert tasks[0] == (
        "1000:4 at 0.05 s: 81 task instances, 400 loops started, "
        "collect + publish = collect_reviews + publish_results"
    )
    assert (
        tasks[1]
        == "first invoke to last loop start: 80 task instances, 12.0 s inside them, 3.0 s between them"
    )
    assert tasks[2].split() == ["task", "instances", "busy", "s", "peak", "MiB"]
    assert tasks[4].split() == ["detect_objects", "40", "14.00", "5.0"]
    assert targets.splitlines()[0].startswith("[NOT MET] capacity 4, 50 ms, 1,000 images: ")
    assert targets.splitlines()[1].startswith("[not measured] capacity 4, 50 ms, 10,000 images: ")
