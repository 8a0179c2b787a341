"""The threshold advisor's files: advice.json for the trigger form, advice.md, a plot per label.

The DAG task and `make advise` write the same files from the same advice, one writing to S3 and
the other to a folder. Plots are drawn on matplotlib's Agg canvas, with no display and no global
backend switch, so they render the same in a worker, a script or a test.
"""

from __future__ import annotations

import io
import json
import re

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from hitl_detection.domain.threshold_advice import Advice, LabelAdvice, format_advice

ADVICE_FILE = "advice.json"
TABLE_FILE = "advice.md"
PLOTS_FOLDER = "plots"
RANGE_THOUSANDTHS = 50  # the observed kept rates are shown in score ranges of 0.05
HISTOGRAM_THOUSANDTHS = 10  # and every box's score in ranges of 0.01


def advice_files(advice: Advice) -> dict[str, bytes]:
    """Relative path -> content: advice.json, advice.md and plots/<label>.png for each label."""
    files = {
        ADVICE_FILE: (json.dumps(advice.form(), indent=2, sort_keys=True) + "\n").encode(),
        TABLE_FILE: (format_advice(advice) + "\n").encode(),
    }
    names = plot_file_names([item.label for item in advice.labels])
    for item in advice.labels:
        files[f"{PLOTS_FOLDER}/{names[item.label]}"] = survival_plot_png(item, advice)
    return files


def plot_file_names(labels: list[str]) -> dict[str, str]:
    """A file name per label, safe in S3 keys and on disk; labels that read alike get a number."""
    names: dict[str, str] = {}
    for label in labels:
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.") or "label"
        name, number = f"{stem}.png", 2
        while name in names.values():
            name, number = f"{stem}-{number}.png", number + 1
        names[label] = name
    return names


def survival_plot_png(item: LabelAdvice, advice: Advice) -> bytes:
    """Score against kept rate for one label: what reviewers kept, the estimate, the threshold."""
    figure = Figure(figsize=(7, 4.8), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    counts = axes.twinx()
    counts.set_zorder(0)
    axes.set_zorder(1)
    axes.patch.set_visible(False)
    for low, high, boxes in item.boxes_by_range(HISTOGRAM_THOUSANDTHS):
        counts.bar(low, boxes, width=high - low, align="edge", color="0.85")
    counts.set_ylabel(f"all boxes per {HISTOGRAM_THOUSANDTHS / 1000} of score (bars)", color="0.45")
    for low, high, reviewed, kept in item.survival_by_range(RANGE_THOUSANDTHS):
        axes.scatter(
            (low + high) / 2, kept / reviewed, s=12 + 4 * reviewed**0.5, color="tab:blue", alpha=0.7, zorder=3
        )
    if item.steps:
        xs, ys = [], []
        for step, following in zip(item.steps, [*item.steps[1:], None], strict=True):
            xs += [step.low, following.low if following else 1.0]
            ys += [step.rate, step.rate]
        axes.plot(xs, ys, color="tab:blue", label="kept rate (estimate; dots: observed)")
    if item.curve:
        thresholds, precisions, _ = zip(*item.curve, strict=True)
        axes.step(thresholds, precisions, where="post", color="tab:green", linestyle="--", linewidth=1)
        axes.plot([], [], color="tab:green", linestyle="--", label="precision of boxes at or above")
    axes.axhline(advice.target_precision, color="tab:green", linewidth=0.8, linestyle=":")
    axes.axvline(
        advice.global_threshold, color="0.4", linestyle=":", label=f"global {advice.global_threshold}"
    )
    axes.axvline(
        item.threshold, color="tab:red", linewidth=2, label=f"advised {item.threshold} ({item.basis})"
    )
    axes.set_xlim(0, 1.005)
    axes.set_ylim(-0.02, 1.05)
    axes.set_xlabel("model score")
    axes.set_ylabel("kept by reviewers")
    axes.set_title(
        f"{item.label}: {item.kept} of {item.reviewed} reviewed boxes kept "
        f"(IoU >= {advice.match_iou}); target {advice.target_precision}",
        fontsize=10,
    )
    figure.legend(loc="outside lower center", ncols=3, fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
