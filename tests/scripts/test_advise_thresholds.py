"""scripts/advise_thresholds.py: advice from local results files, and the measurement's run of the
pipeline's domain functions on the stand-in's detector and reviewer (no S3, no Airflow)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.gating import GatePolicy, gate_detections
from hitl_detection.domain.records import reviewed_record

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "advise_thresholds.py"
SAMPLES = Path(__file__).resolve().parents[2] / "include" / "sample_images"


def _load_script():
    spec = importlib.util.spec_from_file_location("advise_thresholds_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


script = _load_script()
LABELS = ["car", "person"]
POLICY = GatePolicy(labels=tuple(LABELS))


def write_run(folder: Path, records: list[dict], summary: bool = True) -> None:
    folder.mkdir(parents=True)
    (folder / "results.jsonl").write_text("".join(json.dumps(record) + "\n" for record in records))
    if summary:
        (folder / "summary.json").write_text(json.dumps({"config": {"labels": LABELS}}))


def records(count: int) -> list[dict]:
    """Reviewed images each with a car at 0.95 the reviewer keeps and one at 0.5 it deletes."""
    found = []
    for number in range(count):
        model = [Box("car", 0, 0, 40, 30, 0.95), Box("car", 100, 0, 40, 30, 0.5)]
        final = [Box("car", 0, 0, 40, 30, source="human")]
        decision = gate_detections(model, POLICY)
        found.append(
            reviewed_record(f"s3://b/images/{number}.jpg", decision, final, {"backend": "a2i"}, (640, 480))
        )
    return found


def test_advice_from_every_run_under_a_folder_goes_to_the_output_folder(tmp_path):
    write_run(tmp_path / "runs" / "a", records(10))
    write_run(tmp_path / "runs" / "b", records(10))
    out = tmp_path / "advice"

    advice = script.advise_local([tmp_path / "runs"], out, min_reviewed_boxes=20)

    # 20 cars at 0.95 kept, 20 at 0.5 deleted: precision 0.95 needs the 0.5 ones reviewed.
    assert advice.form() == {"threshold": 0.9, "class_thresholds": {"car": 0.95}}
    assert json.loads((out / "advice.json").read_text()) == advice.form()
    assert "| car | 40 | 40 | 20 | 0.95 | estimated | 1.000 | 1.000 |" in (out / "advice.md").read_text()
    assert sorted(path.name for path in (out / "plots").iterdir()) == ["car.png", "person.png"]


def test_a_results_file_can_be_named_and_bad_input_is_named(tmp_path):
    write_run(tmp_path / "a", records(1))
    write_run(tmp_path / "nosummary", records(1), summary=False)
    (tmp_path / "empty").mkdir()
    write_run(tmp_path / "bad", [*records(1), {"status": "lost"}])

    assert script.find_results([tmp_path / "a" / "results.jsonl"]) == [tmp_path / "a" / "results.jsonl"]
    with pytest.raises(SystemExit, match=r"holds no results\.jsonl"):
        script.find_results([tmp_path / "empty"])
    with pytest.raises(SystemExit, match=r"is neither a results\.jsonl nor a folder"):
        script.find_results([tmp_path / "missing"])
    with pytest.raises(SystemExit, match=r"has no summary\.json beside it"):
        script.find_results([tmp_path / "nosummary"])
    with pytest.raises(SystemExit, match=r"results.jsonl, line 2: record for None has status 'lost'"):
        script.advise_local([tmp_path / "bad"], tmp_path / "out")


def test_the_measurement_s_records_are_the_pipeline_s_outcomes_on_the_bundled_images():
    """The demo set's outcome table (local_aws.endpoint.detector): 7 images go to review, and the
    scripted reviewer draws the tiny person the model missed in street-08."""
    policy = GatePolicy(threshold=0.9, min_score=0.2, labels=script.MEASURE_LABELS)
    made = {}
    for path in sorted(SAMPLES.glob("street-*")):
        image = script.detected_image(f"images/{path.name}", path.read_bytes())
        made[path.stem] = script.run_record(image, policy)
    reviewed = sorted(name for name, record in made.items() if record["status"] == "reviewed")
    assert reviewed == [f"street-{n:02d}" for n in (4, 5, 6, 7, 8, 9, 12)]
    # Changes count against the accepted boxes: the tiny car was only a hint, so it is added too.
    added = made["street-08"]["changes"]["added"]
    assert sorted(box["label"] for box in added) == ["car", "person"]


def test_the_measurement_reports_both_policies_on_images_it_did_not_learn_from(tmp_path):
    args = argparse.Namespace(
        images=30, threshold=0.9, target_precision=0.95, match_iou=0.5, min_reviewed_boxes=5, out=tmp_path
    )

    report = script.measure(args)

    assert report["measured_on"] == "30 images, seeds 30..59 (the advice read seeds 0..29)"
    for policy in ("global", "advised"):
        result = report[policy]
        assert result["images"] == 30
        assert result["right"] <= result["boxes_accepted_unreviewed"]
    assert json.loads((tmp_path / "measure.json").read_text())["advice"] == report["advice"]
    assert (tmp_path / "advice.json").is_file()
