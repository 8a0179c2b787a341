"""make demo: the whole pipeline, end to end, against the local stand-in for AWS.

Starts the stand-in (moto, the A2I emulator, the simulated detector, the scripted reviewer),
seeds the bundled sample images, runs `review_workflow_setup` and then `detect_and_review` as
real DAG runs, prints the summary, copies the run's results to demo-output/ with one picture per
reviewed image (model boxes against human boxes), and stops the stand-in.

`--review-backend labelstudio` (`make demo REVIEW_BACKEND=labelstudio`) reviews in a real Label
Studio instead (from .venv-labelstudio, on 127.0.0.1, SQLite in a temporary directory), where
scripted reviewers answer through its API as people would; it is stopped at the end too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "demo-output"
SAMPLES = ROOT / "include" / "sample_images"
BUCKET = "hitl-demo"
LABELS = ["car", "person", "bicycle", "bus"]
DEMO_ROLE_ARN = "arn:aws:iam::123456789012:role/hitl-demo-sagemaker"
DEMO_WORKTEAM_ARN = "arn:aws:sagemaker:us-east-1:123456789012:workteam/private-crowd/hitl-demo"
MODEL_PACKAGE_ARN = (
    "arn:aws:sagemaker:us-east-1:865070037744:model-package/"
    "gluoncv-ssd-resnet501547760463-0f9e6796d2438a1d64bb9b15aac57bc0"
)
LABEL_STUDIO_PROJECT_TITLE = "HITL detection demo"
REVIEW_DELAY_SECONDS = 1


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--review-backend",
        choices=("a2i", "labelstudio"),
        default="a2i",
        help="who reviews: the A2I emulator (default) or a real local Label Studio",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    prepare_airflow_environment(tempfile.mkdtemp(prefix="hitl-demo-airflow-"))
    from local_aws.stack import start_stack

    labelstudio = args.review_backend == "labelstudio"
    print(
        "Starting the local stand-in for AWS (moto, A2I emulator, simulated detector"
        + (")..." if labelstudio else ", scripted reviewer)...")
    )
    stack_args = () if labelstudio else ("--auto-review", "--review-delay", str(REVIEW_DELAY_SECONDS))
    with contextlib.ExitStack() as running:
        stack = running.enter_context(start_stack(*stack_args))
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = stack.conn_uri_env
        print(f"  moto on {stack.moto_url}, emulator on {stack.emulator_url} (pid {stack.pid})")
        studio = running.enter_context(start_label_studio()) if labelstudio else None
        s3 = stack.client("s3")
        seed_images(s3)
        print("Preparing a throwaway Airflow metadata database...")
        dags = load_dags()

        if studio is None:
            print("Running review_workflow_setup (human task UI, flow definition)...")
            flow_definition_arn = run_setup(dags.get_dag("review_workflow_setup"))
            print(f"  flow definition: {flow_definition_arn}")
            conf = run_conf(flow_definition_arn=flow_definition_arn)
        else:
            print("Running review_workflow_setup (Label Studio project, S3 storage of the images)...")
            project_id = run_label_studio_setup(dags.get_dag("review_workflow_setup"))
            print(f"  project {project_id}: {studio.url}/projects/{project_id}")
            running.enter_context(label_studio_reviewers(studio, project_id))
            conf = run_conf(review_backend="labelstudio", label_studio_project_id=project_id)

        print(f"Running detect_and_review on the 12 sample images, reviewed by {args.review_backend}...")
        run_started = time.monotonic()
        run = dags.get_dag("detect_and_review").test(run_conf=conf)
        run_seconds = time.monotonic() - run_started
        if run.get_state() != "success":
            print(f"detect_and_review ended {run.get_state()}", file=sys.stderr)
            return 1
        folder = single_return_value(run, "publish_results")
        summary, records = download_results(s3, folder)
        report(summary, folder, stack.client("sagemaker"))
        draw_reviewed(s3, records)
        advise_thresholds_over_results()
        print(f"detect_and_review took {run_seconds:.0f} s.")
    stopped = "Stand-in and Label Studio" if labelstudio else "Stand-in"
    print(f"{stopped} stopped. Demo took {time.monotonic() - started:.0f} s.")
    return 0


@contextlib.contextmanager
def start_label_studio():
    """A real Label Studio for the demo, and `label_studio_default` pointing at it."""
    from local_labelstudio.server import start_label_studio as start

    print("Starting Label Studio (from .venv-labelstudio; a fresh database takes about a minute)...")
    with start() as studio:
        os.environ["AIRFLOW_CONN_LABEL_STUDIO_DEFAULT"] = studio.connection_json
        print(f"  Label Studio on {studio.url} (pid {studio.pid}, up in {studio.startup_seconds:.0f} s)")
        print(f"  login: {studio.username} / {studio.password}")
        yield studio


@contextlib.contextmanager
def label_studio_reviewers(studio, project_id: int):
    """Scripted reviewers answering the project's tasks through Label Studio's API until the end."""
    from local_labelstudio.reviewer import ScriptedLabelStudioReviewer

    reviewer = ScriptedLabelStudioReviewer(
        studio.url, studio.token, project_id=project_id, delay_seconds=REVIEW_DELAY_SECONDS
    )
    stop = threading.Event()
    thread = threading.Thread(target=reviewer.run, args=(stop, 0.5), daemon=True)
    thread.start()
    try:
        yield reviewer
    finally:
        stop.set()
        thread.join(timeout=30)


def prepare_airflow_environment(home: str) -> None:
    """A throwaway Airflow home with the project's folders, set before Airflow is imported."""
    os.environ.update(
        AIRFLOW_HOME=home,
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(ROOT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(ROOT / "plugins"),
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
        # The scripted reviewer answers within seconds: poll for it that often.
        AIRFLOW__HITL_DETECTION__REVIEW_POLL_SECONDS="2",
        AIRFLOW__HITL_DETECTION__RETRY_DELAY_SECONDS="1",
    )
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]


def load_dags():
    """A migrated metadata database, and the project's DAGs parsed from dags/."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.db import initdb

    initdb()
    dags = DagBag(dag_folder=str(ROOT / "dags"))
    if dags.import_errors:
        raise SystemExit(f"DAG import errors: {dags.import_errors}")
    return dags


def run_conf(**review) -> dict:
    """detect_and_review's conf; `review` names the review backend and what it reviews in."""
    return {
        "input_s3_uri": f"s3://{BUCKET}/images/",
        "output_s3_uri": f"s3://{BUCKET}/results/",
        "labels": LABELS,
        "threshold": 0.9,
        "min_score": 0.2,
        "model_package_arn": MODEL_PACKAGE_ARN,
        "execution_role_arn": DEMO_ROLE_ARN,
        **review,
    }


def seed_images(s3) -> None:
    s3.create_bucket(Bucket=BUCKET)
    images = sorted(p for p in SAMPLES.iterdir() if p.suffix in (".jpg", ".png"))
    for path in images:
        s3.upload_file(str(path), BUCKET, f"images/{path.name}")
    print(f"Seeded {len(images)} sample images into s3://{BUCKET}/images/")


def run_setup(dag) -> str:
    run = dag.test(
        run_conf={
            "flow_definition_name": "hitl-demo-review",
            "human_task_ui_name": "hitl-demo-bounding-box",
            "workteam_arn": DEMO_WORKTEAM_ARN,
            "role_arn": DEMO_ROLE_ARN,
            "s3_output_path": f"s3://{BUCKET}/a2i-output/",
            "labels": LABELS,
        }
    )
    if run.get_state() != "success":
        raise SystemExit(f"review_workflow_setup ended {run.get_state()}")
    return single_return_value(run, "ensure_flow_definition")


def run_label_studio_setup(dag) -> int:
    run = dag.test(
        run_conf={
            "review_backend": "labelstudio",
            "label_studio_project_title": LABEL_STUDIO_PROJECT_TITLE,
            "images_s3_uri": f"s3://{BUCKET}/images/",
            "labels": LABELS,
        }
    )
    if run.get_state() != "success":
        raise SystemExit(f"review_workflow_setup ended {run.get_state()}")
    return single_return_value(run, "ensure_label_studio_project")


def single_return_value(run, task_id: str):
    (instance,) = [ti for ti in run.get_task_instances() if ti.task_id == task_id]
    return instance.xcom_pull(task_ids=task_id)


def download_results(s3, folder_uri: str):
    from hitl_detection.domain.s3_uri import parse_s3_uri

    bucket, folder = parse_s3_uri(folder_uri)
    OUTPUT.mkdir(exist_ok=True)
    for name in ("results.jsonl", "summary.json"):
        s3.download_file(bucket, f"{folder}{name}", str(OUTPUT / name))
    download_folder(s3, bucket, f"{folder}exports/", OUTPUT / "exports")
    summary = json.loads((OUTPUT / "summary.json").read_text())
    records = [json.loads(line) for line in (OUTPUT / "results.jsonl").read_text().splitlines() if line]
    return summary, records


def download_folder(s3, bucket: str, prefix: str, target: Path) -> None:
    """Every object under `prefix` into `target`, by its path under the prefix (an older copy goes)."""
    import shutil

    shutil.rmtree(target, ignore_errors=True)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            path = target / item["Key"].removeprefix(prefix)
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, item["Key"], str(path))


def report(summary: dict, folder: str, sagemaker) -> None:
    from hitl_detection.domain.bill import format_bill
    from hitl_detection.domain.records import format_summary

    print()
    print(format_summary(summary))
    print()
    bill = summary["bill"]
    print(f"No bill: {bill['error']}" if "error" in bill else format_bill(bill))
    print()
    print(f"Results: {folder}results.jsonl and {folder}summary.json (copied to {OUTPUT.relative_to(ROOT)}/)")
    sets = summary["training_sets"]
    print(
        f"Training sets of {sets['images']} images ({sets['excluded']} left out, listed in excluded.jsonl), "
        f"classes {sets['classes']}: {folder}exports/ coco.json, yolo/ (labels/ and classes.txt), "
        f"manifest.jsonl (copied to {OUTPUT.relative_to(ROOT)}/exports/)"
    )
    endpoints = sagemaker.list_endpoints()["Endpoints"]
    print(f"Endpoints left running: {len(endpoints)}")


def draw_reviewed(s3, records: list[dict]) -> None:
    """One picture per reviewed image: the model's boxes thin and orange, the final ones green."""
    import io

    from PIL import Image, ImageDraw

    from hitl_detection.domain.s3_uri import parse_s3_uri

    pictures = OUTPUT / "reviewed"
    pictures.mkdir(exist_ok=True)
    drawn = 0
    for record in records:
        if record["status"] != "reviewed":
            continue
        bucket, key = parse_s3_uri(record["image_s3_uri"])
        image = Image.open(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())).convert("RGB")
        draw = ImageDraw.Draw(image)
        for box in record["boxes"]:
            colour = (40, 200, 60) if box["source"] == "human" else (40, 120, 255)
            draw_box(draw, box, colour, 3, f"{box['label']} ({box['source']})")
        for box in record["model_boxes"]:
            draw_box(draw, box, (255, 150, 0), 1, f"{box['label']} {box['score']:.2f}")
        image.save(pictures / (Path(key).stem + ".png"))
        drawn += 1
    print(f"Pictures of the {drawn} reviewed images (orange: model; blue: kept model boxes; green: human):")
    print(f"  {pictures.relative_to(ROOT)}/")


def advise_thresholds_over_results() -> None:
    """The threshold advisor (`make advise`) over the demo's results: advice.json, table, plots."""
    from advise_thresholds import advise_local

    advice = advise_local([OUTPUT], OUTPUT / "advice")
    print(
        f"Threshold advice from {advice.reviewed_images} reviewed images: {advice.form()} "
        f"(table and a plot per label in {OUTPUT.relative_to(ROOT)}/advice/)"
    )


def draw_box(draw, box: dict, colour, width: int, caption: str) -> None:
    left, top = box["left"], box["top"]
    draw.rectangle([left, top, left + box["width"], top + box["height"]], outline=colour, width=width)
    draw.text((left + 2, max(0, top - 11)), caption, fill=colour)


if __name__ == "__main__":
    sys.exit(main())
