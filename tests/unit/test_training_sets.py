"""Training sets from records, each format checked by a reader of its own: pycocotools reads the
COCO file (and scores it against itself), the YOLO lines are parsed back to pixels, and the
Ground Truth manifest is held to a schema that AWS's own example line passes too."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import jsonschema
import pytest
from box_strategies import int_boxes
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.gating import GatePolicy, gate_detections
from hitl_detection.domain.ground_truth_manifest import LABEL_ATTRIBUTE, manifest_line
from hitl_detection.domain.newest_answers import NewestAnswers
from hitl_detection.domain.records import accepted_record, error_record, review_failed_record, reviewed_record
from hitl_detection.domain.training_sets import (
    ClassList,
    Exclusion,
    RunSource,
    TrainingImage,
    TrainingSetLayout,
    TrainingSetWriter,
    training_item,
)
from hitl_detection.domain.yolo_format import yolo_classes_text, yolo_label_path, yolo_label_text

LABELS = ("dog", "cat")
CLASSES = ClassList(LABELS)
POLICY = GatePolicy(labels=LABELS)
SIZE = (640, 480)
PUBLISHED = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
SOURCE = RunSource("manual__2026-11-25T10:00:00+00:00", PUBLISHED)
DOG = Box("dog", 10, 20, 100, 50, score=0.97)
CAT_DRAWN = Box("cat", 300, 200, 40, 30, source="human")
REVIEW = {"backend": "a2i", "task": "loop-1"}


def uri(name: str) -> str:
    return f"s3://pets/images/{name}"


def accepted(name: str = "a.jpg", boxes=(DOG,), size=SIZE) -> dict:
    return accepted_record(uri(name), gate_detections(boxes, POLICY), size)


def reviewed(name: str = "b.jpg", final=(DOG, CAT_DRAWN)) -> dict:
    decision = gate_detections([DOG, Box("cat", 300, 200, 40, 30, score=0.5)], POLICY)
    return reviewed_record(uri(name), decision, list(final), REVIEW, SIZE)


def failed_review(name: str = "c.jpg") -> dict:
    decision = gate_detections([DOG, Box("cat", 1, 1, 5, 5, score=0.5)], POLICY)
    return review_failed_record(uri(name), decision, REVIEW, "human loop loop-1 Expired", SIZE)


def write(items) -> dict[str, str]:
    """Every file the writer makes from `items`, as text."""
    sinks = {
        name: io.StringIO() for name in ("coco", "coco_annotations", "manifest", "yolo_labels", "excluded")
    }
    writer = TrainingSetWriter(CLASSES, description="test set", created_at=PUBLISHED, **sinks)
    for item in items:
        writer.add(item)
    counts = writer.close()
    return {"counts": counts, **{name: sink.getvalue() for name, sink in sinks.items()}}


def read_coco(text: str) -> COCO:
    coco = COCO()
    coco.dataset = json.loads(text)
    coco.createIndex()
    return coco


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


# Which images go in


def test_accepted_and_reviewed_images_go_in_with_who_annotated_them():
    first, second = (training_item(record, CLASSES, SOURCE) for record in (accepted(), reviewed()))

    assert isinstance(first, TrainingImage)
    assert (first.s3_uri, first.width, first.height, first.human_annotated, first.source) == (
        uri("a.jpg"),
        640,
        480,
        False,
        SOURCE,
    )
    assert [(box.class_id, box.box) for box in first.boxes] == [(0, DOG)]
    assert second.human_annotated
    assert [(box.class_id, box.box.source) for box in second.boxes] == [(0, "model"), (1, "human")]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (error_record(uri("e.jpg"), "ImageError: not a JPEG"), "ImageError: not a JPEG"),
        (failed_review("c.jpg"), "human loop loop-1 Expired"),
        (
            {**accepted("s.jpg"), "image_size": None},
            "a accepted record with no image_size: its boxes cannot be placed",
        ),
        (
            {**accepted("h.jpg"), "boxes": [Box("horse", 1, 1, 5, 5, score=0.99).to_record()]},
            "box label 'horse' is not one of the classes ['dog', 'cat']",
        ),
        ({**error_record(uri("x.jpg"), "x"), "error": None}, "status error"),
    ],
)
def test_images_without_usable_vouched_boxes_are_left_out_with_the_reason(record, reason):
    item = training_item(record, CLASSES, SOURCE)

    assert item == Exclusion(record["image_s3_uri"], record["status"], reason, SOURCE.run_id)


def test_boxes_are_clipped_to_the_image_and_dropped_when_nothing_is_left():
    record = accepted(
        boxes=[Box("dog", -10, 470, 30, 40, score=0.95), Box("cat", 650, 10, 20, 20, score=0.95)]
    )

    (box,) = training_item(record, CLASSES, SOURCE).boxes

    assert box.box.coords == (0, 470, 20, 10)


def test_class_ids_follow_the_labels_and_a_merged_list_keeps_the_oldest_runs_ids():
    merged = ClassList.merged([("dog", "cat"), ("bird", "dog")])

    assert merged.labels == ("dog", "cat", "bird")
    assert [merged.class_id(label) for label in ("dog", "cat", "bird", "cow")] == [0, 1, 2, None]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ((), "a training set needs at least one class; got no labels"),
        (("dog", "dog"), "the classes ['dog', 'dog'] repeat a label; expected each once"),
    ],
)
def test_a_class_list_refuses_no_labels_and_repeats(labels, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        ClassList(labels)


def test_the_layout_puts_every_file_under_the_exports_prefix():
    layout = TrainingSetLayout("out", "results/run/exports/")

    assert [layout.coco_key, layout.manifest_key, layout.excluded_key, layout.yolo_classes_key] == [
        "results/run/exports/coco.json",
        "results/run/exports/manifest.jsonl",
        "results/run/exports/excluded.jsonl",
        "results/run/exports/yolo/classes.txt",
    ]
    assert layout.yolo_key("labels/pets/a.txt") == "results/run/exports/yolo/labels/pets/a.txt"
    assert layout.uri(layout.yolo_prefix) == "s3://out/results/run/exports/yolo/"


# COCO, read by pycocotools


def test_pycocotools_reads_the_coco_file_images_categories_and_boxes():
    files = write(training_item(r, CLASSES, SOURCE) for r in (accepted(), reviewed(), failed_review()))

    coco = read_coco(files["coco"])

    assert [cat["name"] for cat in coco.loadCats(coco.getCatIds())] == ["dog", "cat"]
    assert coco.getCatIds(catNms=["cat"]) == [2]
    images = coco.loadImgs(coco.getImgIds())
    assert [(img["file_name"], img["s3_uri"], img["width"], img["height"]) for img in images] == [
        ("pets/images/a.jpg", uri("a.jpg"), 640, 480),
        ("pets/images/b.jpg", uri("b.jpg"), 640, 480),
    ]
    second = coco.loadAnns(coco.getAnnIds(imgIds=[2]))
    assert [(ann["category_id"], ann["bbox"], ann["area"], ann["source"]) for ann in second] == [
        (1, [10, 20, 100, 50], 5000, "model"),
        (2, [300, 200, 40, 30], 1200, "human"),
    ]
    assert second[0]["score"] == 0.97
    assert "score" not in second[1]
    assert json.loads(files["coco"])["info"]["date_created"] == PUBLISHED.isoformat()
    assert files["counts"].images == 2
    assert files["counts"].boxes == 3
    assert files["counts"].excluded == 1


def test_cocoeval_scores_the_set_against_itself_perfectly():
    files = write(training_item(r, CLASSES, SOURCE) for r in (accepted(), reviewed()))
    truth = read_coco(files["coco"])
    detections = truth.loadRes(
        [
            {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
            for a in truth.loadAnns(truth.getAnnIds())
        ]
    )

    evaluation = COCOeval(truth, detections, "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)  # AP at IoU 0.50:0.95


def test_an_empty_set_is_still_a_coco_document():
    coco = read_coco(write([Exclusion(uri("e.jpg"), "error", "broken", "run")])["coco"])

    assert coco.getImgIds() == []
    assert coco.getAnnIds() == []
    assert len(coco.getCatIds()) == 2


# YOLO, parsed back to pixels


def parse_yolo(text: str, width: int, height: int) -> list[tuple[int, float, float, float, float]]:
    """Each line back to (class id, left, top, width, height) in pixels."""
    boxes = []
    for line in text.splitlines():
        class_id, x, y, w, h = line.split()
        values = [float(x), float(y), float(w), float(h)]
        assert all(0 <= value <= 1 for value in values), line
        boxes.append(
            (
                int(class_id),
                (values[0] - values[2] / 2) * width,
                (values[1] - values[3] / 2) * height,
                values[2] * width,
                values[3] * height,
            )
        )
    return boxes


def test_yolo_labels_name_the_image_and_parse_back_to_its_boxes():
    files = write(training_item(r, CLASSES, SOURCE) for r in (accepted("x/a.jpeg", boxes=()), reviewed()))

    labels = lines(files["yolo_labels"])

    assert [label["path"] for label in labels] == ["labels/pets/images/x/a.txt", "labels/pets/images/b.txt"]
    assert labels[0]["text"] == ""  # a background image
    parsed = parse_yolo(labels[1]["text"], 640, 480)
    assert [box[0] for box in parsed] == [0, 1]
    assert parsed[1][1:] == pytest.approx((300, 200, 40, 30), abs=0.01)
    assert yolo_classes_text(LABELS) == "dog\ncat\n"


@settings(max_examples=60)
@given(
    st.lists(int_boxes(label=st.sampled_from(LABELS)), max_size=6), st.integers(50, 400), st.integers(50, 400)
)
def test_every_format_holds_the_same_boxes(boxes, width, height):
    record = reviewed_record(uri("p.png"), gate_detections([], POLICY), boxes, REVIEW, (width, height))
    image = training_item(record, CLASSES, SOURCE)
    files = write([image])

    coco = read_coco(files["coco"])
    coco_boxes = [(a["category_id"] - 1, *a["bbox"]) for a in coco.loadAnns(coco.getAnnIds())]
    yolo = parse_yolo(yolo_label_text(image), width, height)
    manifest = manifest_line(image, LABELS)[LABEL_ATTRIBUTE]["annotations"]

    assert len(coco_boxes) == len(yolo) == len(manifest) == len(image.boxes)
    for coco_box, yolo_box, line in zip(coco_boxes, yolo, manifest, strict=True):
        assert coco_box[0] == yolo_box[0] == line["class_id"]
        assert yolo_box[1:] == pytest.approx(coco_box[1:], abs=0.01)
        assert [line[key] for key in ("left", "top", "width", "height")] == [round(v) for v in coco_box[1:]]
        assert coco_box[1] >= 0
        assert coco_box[1] + coco_box[3] <= width
    assert yolo_label_path("bucket/a/b.c.png") == "labels/bucket/a/b.c.txt"


# The Ground Truth manifest, held to the documented format

# The bounding-box job output format of SageMaker Ground Truth, as its documentation (and that of
# Rekognition Custom Labels, which reads it) shows it.
GROUND_TRUTH_EXAMPLE = (
    '{"source-ref": "s3://bucket/images/IMG_1186.png", "bounding-box": {"image_size": [{"width": 640, '
    '"height": 480, "depth": 3}], "annotations": [{ "class_id": 1, "top": 251, "left": 399, "width": 155, '
    '"height": 101}, {"class_id": 0, "top": 65, "left": 86, "width": 220, "height": 334}]}, '
    '"bounding-box-metadata": {"objects": [{ "confidence": 1}, {"confidence": 1}], "class-map": {"0": '
    '"Echo", "1": "Echo Dot"}, "type": "groundtruth/object-detection", "human-annotated": "yes", '
    '"creation-date": "2013-11-18T02:53:27", "job-name": "my job"}}'
)
PIXELS = {"type": "integer", "minimum": 0}
MANIFEST_SCHEMA = {
    "type": "object",
    "required": ["source-ref", "bounding-box", "bounding-box-metadata"],
    "properties": {
        "source-ref": {"type": "string", "pattern": "^s3://[^/]+/.+"},
        "bounding-box": {
            "type": "object",
            "required": ["image_size", "annotations"],
            "properties": {
                "image_size": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["width", "height", "depth"],
                        "properties": {"width": PIXELS, "height": PIXELS, "depth": {"enum": [1, 3, 4]}},
                    },
                },
                "annotations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["class_id", "left", "top", "width", "height"],
                        "additionalProperties": False,
                        "properties": dict.fromkeys(("class_id", "left", "top", "width", "height"), PIXELS),
                    },
                },
            },
        },
        "bounding-box-metadata": {
            "type": "object",
            "required": ["objects", "class-map", "type", "human-annotated", "creation-date", "job-name"],
            "properties": {
                "objects": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["confidence"],
                        "properties": {"confidence": {"type": "number", "minimum": 0, "maximum": 1}},
                    },
                },
                "class-map": {
                    "type": "object",
                    "propertyNames": {"pattern": "^[0-9]+$"},
                    "additionalProperties": {"type": "string"},
                },
                "type": {"const": "groundtruth/object-detection"},
                "human-annotated": {"enum": ["yes", "no"]},
                "creation-date": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"},
                "job-name": {"type": "string", "minLength": 1},
            },
        },
    },
}


def test_the_schema_accepts_the_documented_example():
    jsonschema.validate(json.loads(GROUND_TRUTH_EXAMPLE), MANIFEST_SCHEMA)


def test_manifest_lines_follow_the_ground_truth_format():
    files = write(training_item(r, CLASSES, SOURCE) for r in (accepted(), reviewed()))

    first, second = lines(files["manifest"])

    for line in (first, second):
        jsonschema.validate(line, MANIFEST_SCHEMA)
        annotations = line["bounding-box"]["annotations"]
        assert len(annotations) == len(line["bounding-box-metadata"]["objects"])
    assert first["source-ref"] == uri("a.jpg")
    assert first["bounding-box-metadata"]["human-annotated"] == "no"
    assert second["bounding-box-metadata"] == {
        "objects": [{"confidence": 0.97}, {"confidence": 1.0}],
        "class-map": {"0": "dog", "1": "cat"},
        "type": "groundtruth/object-detection",
        "human-annotated": "yes",
        "creation-date": "2026-11-25T10:30:00",
        "job-name": SOURCE.run_id,
    }
    assert second["bounding-box"]["image_size"] == [{"width": 640, "height": 480, "depth": 3}]


def test_exclusions_are_listed_one_a_line():
    files = write([training_item(failed_review(), CLASSES, SOURCE)])

    assert lines(files["excluded"]) == [
        {
            "image_s3_uri": uri("c.jpg"),
            "status": "review_failed",
            "reason": "human loop loop-1 Expired",
            "run_id": SOURCE.run_id,
        }
    ]
    assert files["manifest"] == files["yolo_labels"] == ""


# The newest answer per image, across runs


def test_the_newest_exportable_answer_wins_and_an_image_without_one_keeps_its_newest_failure():
    newer, older = RunSource("newer", PUBLISHED), RunSource("older", PUBLISHED)
    answers = NewestAnswers()
    taken = []
    for source, records in (
        (newer, [failed_review("a.jpg"), accepted("b.jpg"), error_record(uri("c.jpg"), "newest failure")]),
        (
            older,
            [
                reviewed("a.jpg"),
                reviewed("b.jpg"),
                error_record(uri("b.jpg"), "older failure of an exported image"),
                error_record(uri("c.jpg"), "older failure"),
            ],
        ),
    ):
        for record in records:
            item = training_item(record, CLASSES, source)
            if isinstance(item, Exclusion):
                answers.hold_exclusion(item)
            elif answers.first_answer(item):
                taken.append((item.s3_uri, source.run_id))

    assert taken == [(uri("b.jpg"), "newer"), (uri("a.jpg"), "older")]
    assert list(answers.exclusions()) == [Exclusion(uri("c.jpg"), "error", "newest failure", "newer")]
    answers.close()
