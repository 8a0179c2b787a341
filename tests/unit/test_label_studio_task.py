import json

import pytest

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.label_studio_config import LabelingConfig
from hitl_detection.domain.label_studio_task import TaskInputError, box_to_region, build_task, hints_text
from hitl_detection.domain.review_tasks import ReviewRequest

CONFIG = LabelingConfig(image="image", control="label", labels=("car", "person"))
CAR = Box("car", left=64, top=40, width=320, height=120, score=0.97)
PERSON = Box("person", left=500, top=100, width=40, height=80, score=0.55)


def request(**overrides) -> ReviewRequest:
    fields = {
        "run_key": "manual__2026-12-01T00:00:00+00:00",
        "image_key": "in/street-01.jpg",
        "image_s3_uri": "s3://images/in/street-01.jpg",
        "image_size": (640, 400),
        "labels": ("car", "person"),
        "initial_boxes": (CAR,),
        "uncertain_boxes": (PERSON,),
        **overrides,
    }
    return ReviewRequest(**fields)


def test_the_task_carries_the_image_the_run_and_the_models_confident_boxes():
    task = build_task(request(), name="abc-street-01-0123", config=CONFIG, model_version="hitl-detection")

    assert task["data"] == {
        "image": "s3://images/in/street-01.jpg",
        "run": "manual__2026-12-01T00:00:00+00:00",
        "image_key": "in/street-01.jpg",
        "name": "abc-street-01-0123",
        "image_width": 640,
        "image_height": 400,
        "labels": ["car", "person"],
        "hints": "person 55% at left 500, top 100, 40 x 80 px",
    }
    [prediction] = task["predictions"]
    assert prediction == {
        "model_version": "hitl-detection",
        "score": 0.97,
        "result": [
            {
                "from_name": "label",
                "to_name": "image",
                "type": "rectanglelabels",
                "original_width": 640,
                "original_height": 400,
                "image_rotation": 0,
                "value": {
                    "x": 10.0,
                    "y": 10.0,
                    "width": 50.0,
                    "height": 30.0,
                    "rotation": 0,
                    "rectanglelabels": ["car"],
                },
                "score": 0.97,
            }
        ],
    }
    json.dumps(task)  # what the import sends


def test_the_prediction_score_is_the_least_sure_box_and_absent_without_boxes():
    both = build_task(
        request(initial_boxes=(CAR, PERSON), uncertain_boxes=()), name="n", config=CONFIG, model_version="m"
    )
    assert both["predictions"][0]["score"] == 0.55
    assert both["data"]["hints"] == "nothing"
    empty = build_task(request(initial_boxes=()), name="n", config=CONFIG, model_version="m")
    assert empty["predictions"] == [{"model_version": "m", "result": []}]


def test_a_box_without_a_score_is_a_region_without_one():
    region = box_to_region(Box("car", 0, 0, 640, 400, source="human"), (640, 400), CONFIG)
    assert "score" not in region
    assert region["value"]["width"] == 100.0


def test_hints_name_label_score_and_place():
    boxes = [PERSON, Box("car", 10.4, 20.6, 30, 40.5, score=None)]
    assert hints_text(boxes) == (
        "person 55% at left 500, top 100, 40 x 80 px; car (no score) at left 10, top 21, 30 x 40 px"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"image_s3_uri": "https://images/a.jpg"}, "image_s3_uri: "),
        ({"image_s3_uri": "s3://images/in/"}, "image_s3_uri 's3://images/in/' names a prefix"),
        ({"image_s3_uri": "s3://images"}, "image_s3_uri 's3://images' names a prefix"),
        ({"image_size": None}, "the size of s3://images/in/street-01.jpg is unknown"),
        ({"labels": ()}, "labels is empty"),
        ({"labels": ("person",)}, "initial box 0 has label 'car', which is not among labels ['person']"),
        (
            {"labels": ("car",)},
            "uncertain box 0 has label 'person', which is not among labels ['car']",
        ),
    ],
)
def test_a_task_that_cannot_be_built_says_why(overrides, message):
    with pytest.raises(TaskInputError) as raised:
        build_task(request(**overrides), name="n", config=CONFIG, model_version="m")
    assert str(raised.value).startswith(message)
