"""make advise: per-label threshold advice from local detect_and_review results, or its measurement.

    python scripts/advise_thresholds.py                          # demo-output/ -> advice-output/
    python scripts/advise_thresholds.py runs/ b/results.jsonl --out advice/ --target-precision 0.98
    python scripts/advise_thresholds.py --measure                # 1,000 generated images, see below

A path is a results.jsonl or a folder searched for them; each needs the summary.json its run wrote
beside it (the run's labels). The advice goes to --out: advice.json (paste into the trigger form),
advice.md (the table) and plots/<label>.png, the same files the advise_thresholds DAG writes.

--measure runs the advisor on the stand-in's simulated detector, in this process, through the
pipeline's own domain functions (detect -> gate -> A2I task -> scripted reviewer -> output.json ->
consolidation -> result record), with no Airflow and no S3 in between:

1. N generated images (seeds 0..N-1) go through a run at the global threshold 0.9; the advisor
   reads its records;
2. N other images (seeds N..2N-1) are gated at the global 0.9 and at the advice, and for each the
   review load (images sent to review) and the precision of the boxes accepted without review
   against the ground truth in the images (a box is right when it pairs with a true object of its
   label at IoU >= --match-iou) are counted, with the true objects left in unreviewed images
   without a box (what reviewers would have added).

The numbers go to stdout and <out>/measure.json, the advice and plots beside them.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from hitl_detection.domain.a2i_answers import parse_human_loop_output  # noqa: E402
from hitl_detection.domain.a2i_task import build_input_content  # noqa: E402
from hitl_detection.domain.boxes import Box, match_boxes  # noqa: E402
from hitl_detection.domain.consolidation import consolidate_answers  # noqa: E402
from hitl_detection.domain.detector_output import parse_detections  # noqa: E402
from hitl_detection.domain.gating import (  # noqa: E402
    DEFAULT_MIN_SCORE,
    DEFAULT_THRESHOLD,
    GatePolicy,
    gate_detections,
)
from hitl_detection.domain.images import content_type_for, image_size  # noqa: E402
from hitl_detection.domain.records import accepted_record, reviewed_record  # noqa: E402
from hitl_detection.domain.threshold_advice import (  # noqa: E402
    DEFAULT_MATCH_IOU,
    DEFAULT_MIN_REVIEWED_BOXES,
    DEFAULT_TARGET_PRECISION,
    Advice,
    ReviewEvidence,
    advise_thresholds,
    format_advice,
    run_labels,
)

DEFAULT_INPUT = ROOT / "demo-output"
DEFAULT_OUTPUT = ROOT / "advice-output"
RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
# The demo's run (scripts/demo.py): the labels and gate the measurement's runs use.
MEASURE_LABELS = ("car", "person", "bicycle", "bus")
MEASURE_IMAGES = 1000
MEASURE_BUCKET = "hitl-measure"
IMAGE_FORMATS = ("jpeg", "jpeg", "jpeg", "jpeg", "png")  # as local_aws.actors.samples writes sets
REVIEWER = "scripted-reviewer-1"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make advise", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "paths", nargs="*", type=Path, help=f"results files or folders (default {DEFAULT_INPUT})"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUTPUT, help="where the advice goes")
    parser.add_argument("--target-precision", type=float, default=DEFAULT_TARGET_PRECISION)
    parser.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="the global threshold (labels with little data)",
    )
    parser.add_argument(
        "--match-iou",
        type=float,
        default=DEFAULT_MATCH_IOU,
        help="IoU at which a reviewer's box keeps a model box",
    )
    parser.add_argument("--min-reviewed-boxes", type=int, default=DEFAULT_MIN_REVIEWED_BOXES)
    parser.add_argument("--measure", action="store_true", help="measure the advisor on generated images")
    parser.add_argument("--images", type=int, default=MEASURE_IMAGES, help="--measure: images per set")
    args = parser.parse_args(argv)
    if args.measure and args.paths:
        parser.error("--measure generates its own images; give no paths with it")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.measure:
        report = measure(args)
        print(format_measure(report))
        return 0
    advice = advise_local(args.paths or [DEFAULT_INPUT], args.out, **advice_options(args))
    print(format_advice(advice))
    print(f"\nAdvice written to {shown(args.out)}/ (advice.json, advice.md, plots/)")
    return 0


def advice_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "target_precision": args.target_precision,
        "global_threshold": args.threshold,
        "match_iou": args.match_iou,
        "min_reviewed_boxes": args.min_reviewed_boxes,
    }


# Advice from local results files


def advise_local(
    paths: Iterable[Path], out: Path, *, match_iou: float = DEFAULT_MATCH_IOU, **options
) -> Advice:
    """Read every run's results under `paths`, advise, and write the advice's files to `out`."""
    evidence = ReviewEvidence(match_iou)
    for results in find_results(paths):
        labels = run_labels(json.loads((results.parent / SUMMARY_FILE).read_text()), str(results.parent))
        for number, line in enumerate(results.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                evidence.add(json.loads(line), labels)
            except ValueError as error:
                raise SystemExit(f"{results}, line {number}: {error}") from error
        print(f"Read {shown(results)} (labels {', '.join(labels)})")
    advice = advise_thresholds(evidence, **options)
    write_files(advice, out)
    return advice


def find_results(paths: Iterable[Path]) -> list[Path]:
    """Each results.jsonl named or under a folder named, with its summary.json beside it."""
    found = []
    for path in paths:
        if path.is_dir():
            files = sorted(path.rglob(RESULTS_FILE))
            if not files:
                raise SystemExit(f"{path} holds no {RESULTS_FILE}")
            found += files
        elif path.is_file():
            found.append(path)
        else:
            raise SystemExit(f"{path} is neither a {RESULTS_FILE} nor a folder")
    for results in found:
        if not (results.parent / SUMMARY_FILE).is_file():
            raise SystemExit(f"{results} has no {SUMMARY_FILE} beside it: the run's labels are unknown")
    return found


def write_files(advice: Advice, out: Path) -> None:
    from hitl_detection.reports.threshold_report import advice_files

    for name, content in advice_files(advice).items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


def shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


# The measurement


@dataclass(frozen=True)
class GeneratedImage:
    """One generated image as the pipeline sees it: its URI, size and detections, and its truth."""

    s3_uri: str
    body: bytes
    size: tuple[int, int]
    detections: tuple[Box, ...]
    truth: tuple[Box, ...]


def generated_images(first_seed: int, count: int) -> Iterator[GeneratedImage]:
    """Seeded street images (formats cycled as sample sets are), detected one by one."""
    from local_aws.actors.samples import FORMATS, generate_image

    for index in range(count):
        seed = first_seed + index
        fmt = IMAGE_FORMATS[index % len(IMAGE_FORMATS)]
        body, _ = generate_image(seed, fmt)
        yield detected_image(f"images/sample-{seed:06d}{FORMATS[fmt]}", body)


def detected_image(key: str, body: bytes) -> GeneratedImage:
    """An image as detect_and_review's detection leaves it, answered by the stand-in's simulated
    detector as the endpoint would, with the truth the image carries."""
    from local_aws.actors.samples import read_truth
    from local_aws.endpoint.detector import SimulatedDetector

    content_type = content_type_for(key)
    size = image_size(body, content_type)
    return GeneratedImage(
        s3_uri=f"s3://{MEASURE_BUCKET}/{key}",
        body=body,
        size=size,
        detections=tuple(parse_detections(SimulatedDetector().detect(body, content_type), size)),
        truth=tuple(Box.from_record({**box, "source": "human"}) for box in read_truth(body) or ()),
    )


def run_record(image: GeneratedImage, policy: GatePolicy) -> dict[str, Any]:
    """The result record detect_and_review writes for the image, reviewed by the scripted reviewer."""
    from local_aws.a2i.loop_output import human_answer, output_document
    from local_aws.actors.scripted_reviewer import answer_for

    decision = gate_detections(image.detections, policy)
    if not decision.needs_review:
        return accepted_record(image.s3_uri, decision, image.size)
    task = json.loads(build_input_content(image.s3_uri, decision.accepted, policy.labels, decision.uncertain))
    answer = human_answer(REVIEWER, answer_for(task, image.body, 0), datetime.now(UTC), 10.0, "us-east-1")
    output = output_document(
        "arn:aws:sagemaker:us-east-1:123456789012:flow-definition/measure", "loop", task, [answer]
    )
    final = consolidate_answers([reviewer.boxes for reviewer in parse_human_loop_output(output)])
    return reviewed_record(
        image.s3_uri, decision, final, {"backend": "a2i", "reviewers": [REVIEWER]}, image.size
    )


def evaluate(images: Sequence[GeneratedImage], policy: GatePolicy, match_iou: float) -> dict[str, Any]:
    """Review load under a policy, and the boxes it accepts without review against the truth."""
    reviewed = accepted = right = missed = objects = 0
    for image in images:
        truth = [box for box in image.truth if box.label in policy.labels]
        objects += len(truth)
        decision = gate_detections(image.detections, policy)
        if decision.needs_review:
            reviewed += 1
            continue
        pairs = match_boxes(decision.accepted, truth, match_iou)
        accepted += len(decision.accepted)
        right += len(pairs)
        missed += len(truth) - len(pairs)
    return {
        "images": len(images),
        "sent_to_review": reviewed,
        "review_load": reviewed / len(images),
        "boxes_accepted_unreviewed": accepted,
        "right": right,
        "precision_unreviewed": right / accepted if accepted else None,
        "true_objects": objects,
        "true_objects_left_without_a_box": missed,
    }


def measure(args: argparse.Namespace) -> dict[str, Any]:
    count = args.images
    policy = GatePolicy(threshold=args.threshold, min_score=DEFAULT_MIN_SCORE, labels=MEASURE_LABELS)
    print(f"Generating and detecting {count} images for the run the advisor reads...")
    history = list(generated_images(0, count))
    evidence = ReviewEvidence(args.match_iou)
    for image in history:
        evidence.add(run_record(image, policy), MEASURE_LABELS)
    advice = advise_thresholds(
        evidence,
        target_precision=args.target_precision,
        global_threshold=args.threshold,
        min_reviewed_boxes=args.min_reviewed_boxes,
    )
    write_files(advice, args.out)
    print(f"Generating and detecting {count} other images to measure on...")
    fresh = list(generated_images(count, count))
    advised = GatePolicy(
        threshold=args.threshold,
        min_score=DEFAULT_MIN_SCORE,
        class_thresholds=advice.class_thresholds,
        labels=MEASURE_LABELS,
    )
    report = {
        "labels": list(MEASURE_LABELS),
        "match_iou": args.match_iou,
        "target_precision": args.target_precision,
        "advice": advice.form(),
        "advice_table": format_advice(advice),
        "measured_on": f"{count} images, seeds {count}..{2 * count - 1} "
        f"(the advice read seeds 0..{count - 1})",
        "global": evaluate(fresh, policy, args.match_iou),
        "advised": evaluate(fresh, advised, args.match_iou),
        "in_sample": {
            "global": evaluate(history, policy, args.match_iou),
            "advised": evaluate(history, advised, args.match_iou),
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "measure.json").write_text(json.dumps(report, indent=2) + "\n")
    return {**report, "out": shown(args.out)}


def format_measure(report: dict[str, Any]) -> str:
    lines = [report["advice_table"], "", f"Measured on {report['measured_on']}:"]
    for name in ("global", "advised"):
        result = report[name]
        precision = result["precision_unreviewed"]
        lines.append(
            f"  {'global ' + str(report['advice']['threshold']) if name == 'global' else 'advised':<11} "
            f"review load {result['sent_to_review']}/{result['images']} ({result['review_load']:.1%}); "
            f"accepted unreviewed {result['boxes_accepted_unreviewed']} boxes, precision "
            f"{'-' if precision is None else f'{precision:.3f}'} at IoU >= {report['match_iou']}; "
            "true objects left without a box in unreviewed images: "
            f"{result['true_objects_left_without_a_box']} of {result['true_objects']}"
        )
    lines.append(f"Report and advice in {report['out']}/ (measure.json, advice.json, advice.md, plots/)")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
