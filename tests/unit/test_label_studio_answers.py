import math

import pytest
from box_strategies import label_names
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.answer_checks import check_answers
from hitl_detection.domain.boxes import Box
from hitl_detection.domain.label_studio_answers import (
    FINISHED,
    PENDING,
    SKIPPED,
    AnnotationFormatError,
    parse_answers,
    region_to_box,
    review_state,
    skipped_by,
)
from hitl_detection.domain.label_studio_config import LabelingConfig
from hitl_detection.domain.label_studio_task import box_to_region
from hitl_detection.domain.review_tasks import ReviewerAnswer

CONFIG = LabelingConfig(image="image", control="label", labels=("car", "person"))
SIZE = (640, 400)


def region(x=10.0, y=10.0, width=50.0, height=30.0, label="car", **extra):
    return {
        "id": "r1",
        "from_name": "label",
        "to_name": "image",
        "type": "rectanglelabels",
        "origin": "manual",
        "original_width": 640,
        "original_height": 400,
        "image_rotation": 0,
        "value": {
            "x": x,
            "y": y,
            "width": width,
            "height": height,
            "rotation": 0,
            "rectanglelabels": [label],
        },
        **extra,
    }


def annotation(result, user=None, **extra):
    return {
        "id": 1,
        "result": result,
        "was_cancelled": False,
        "completed_by": user or {"id": 2, "email": "reviewer-1@example.com"},
        "created_at": "2026-12-01T10:00:00.123Z",
        "lead_time": 12.5,
        **extra,
    }


def task(*annotations, **data):
    return {
        "id": 7,
        "data": {
            "image": "s3://b/a.jpg",
            "image_width": 640,
            "image_height": 400,
            "labels": ["car", "person"],
        }
        | data,
        "annotations": list(annotations),
        "total_annotations": sum(not a.get("was_cancelled") for a in annotations),
        "cancelled_annotations": sum(bool(a.get("was_cancelled")) for a in annotations),
    }


# Finished, pending, skipped


@pytest.mark.parametrize(
    ("submitted", "cancelled", "required", "state"),
    [(0, 0, 1, PENDING), (1, 0, 1, FINISHED), (1, 0, 2, PENDING), (3, 0, 2, FINISHED), (1, 1, 2, SKIPPED)],
)
def test_review_state_counts_submitted_and_skipped_annotations(submitted, cancelled, required, state):
    listed = {"total_annotations": submitted, "cancelled_annotations": cancelled}
    assert review_state(listed, required) == state


@pytest.mark.parametrize("count", [None, -1, True, "1"])
def test_review_state_needs_counts(count):
    with pytest.raises(AnnotationFormatError, match=r"task total_annotations is .*, expected a count"):
        review_state({"total_annotations": count, "cancelled_annotations": 0}, 1)


def test_skipped_by_names_who_skipped():
    skipped = task(
        annotation([], was_cancelled=True),
        annotation([region()]),
        annotation([], user=5, was_cancelled=True),
    )
    assert skipped_by(skipped) == ["reviewer-1@example.com", "user 5"]


# Answers


def test_every_submitted_annotation_is_an_answer_in_whole_pixels_of_the_stored_image():
    first = annotation([region(), region(x=78.125, y=25, width=6.25, height=20, label="person")])
    second = annotation(
        [region(x=10.01, y=9.99)], user={"id": 3, "email": ""}, created_at=None, lead_time=None
    )
    skipped = annotation([], user=4, was_cancelled=True)

    answers = parse_answers(task(first, skipped, second))

    assert answers == [
        ReviewerAnswer(
            worker_id="reviewer-1@example.com",
            boxes=(
                Box("car", 64, 40, 320, 120, source="human"),
                Box("person", 500, 100, 40, 80, source="human"),
            ),
            image_size=SIZE,
            submission_time="2026-12-01T10:00:00.123Z",
            time_spent_seconds=12.5,
        ),
        ReviewerAnswer("user 3", (Box("car", 64, 40, 320, 120, source="human"),), SIZE, None, None),
    ]


def test_an_empty_answer_has_no_boxes_and_other_result_types_are_not_boxes():
    comment = {"type": "textarea", "from_name": "comment", "value": {"text": ["blurry"]}}
    answers = parse_answers(task(annotation([comment]), annotation(None, user=9)))
    assert [(a.boxes, a.image_size) for a in answers] == [((), None), ((), None)]


def test_without_a_size_in_the_task_data_the_size_the_reviewer_saw_is_used():
    [answer] = parse_answers(task(annotation([region()]), image_width=None, image_height=None, labels=None))
    assert answer.boxes == (Box("car", 64, 40, 320, 120, source="human"),)


def test_without_a_size_in_the_region_the_stored_size_is_used():
    bare = region()
    del bare["original_width"], bare["original_height"]
    assert region_to_box("r", bare, SIZE)[0] == Box("car", 64, 40, 320, 120, source="human")


def test_boxes_reaching_out_of_the_image_are_left_for_the_answer_checks_to_cut():
    box, seen = region_to_box("r", region(x=-5, y=90, width=20, height=30), SIZE)
    assert box == Box("car", -32, 360, 128, 120, source="human")
    [checked] = check_answers([ReviewerAnswer("w", (box,), seen, None, None)], ["car"], SIZE).answers
    assert checked.boxes == (Box("car", 0, 360, 96, 40, source="human"),)


def test_an_answer_on_the_image_turned_is_in_the_pixels_the_reviewer_saw_and_refused_by_the_checks():
    [answer] = parse_answers(task(annotation([region(original_width=400, original_height=640)])))
    assert answer.image_size == (400, 640)
    assert answer.boxes == (Box("car", 40, 64, 200, 192, source="human"),)
    checked = check_answers([answer], ["car"], SIZE)
    assert checked.answers == ()
    assert checked.refused[0]["reason"].startswith(
        "drawn on the image as 400x640, but the stored image is 640x400"
    )


def test_a_rotated_box_becomes_the_upright_box_around_it():
    # 90 degrees clockwise about the top-left corner (100, 100): 200 px wide, 50 px high.
    value = region(x=15.625, y=25, width=31.25, height=12.5)["value"] | {"rotation": 90}
    box, _ = region_to_box("r", region() | {"value": value}, SIZE)
    assert box == Box("car", 50, 100, 50, 200, source="human")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"data": None}, "data is None, expected a JSON object"),
        ({"annotations": None}, "annotations is None, expected a list"),
        ({"annotations": ["x"]}, "annotations[0] is 'x', expected a JSON object"),
        (
            {"data": {"image_width": 640, "image_height": 0}},
            "data.image_width x data.image_height is 640 x 0, expected whole pixels >= 1",
        ),
        (
            {"data": {"image_width": "640", "image_height": 400}},
            "data.image_width x data.image_height is '640' x 400, expected whole pixels",
        ),
        (
            {"data": {"image_width": 640.5, "image_height": 400}},
            "data.image_width x data.image_height is 640.5 x 400, expected whole pixels >= 1",
        ),
    ],
)
def test_a_malformed_task_names_the_field(change, message):
    with pytest.raises(AnnotationFormatError) as raised:
        parse_answers(task(annotation([region()])) | change)
    assert str(raised.value).startswith(message)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"result": "boxes"}, "annotations[0].result is 'boxes', expected a list of regions"),
        ({"result": [None]}, "annotations[0].result[0] is None, expected a JSON object"),
        ({"completed_by": None}, "annotations[0].completed_by is None, expected a user or a user id"),
        ({"completed_by": {"email": None}}, "annotations[0].completed_by is None, expected a user"),
        ({"created_at": 5}, "annotations[0].created_at is 5, expected an ISO 8601 string"),
        ({"lead_time": -1}, "annotations[0].lead_time is -1, expected a number >= 0"),
        ({"lead_time": "3 s"}, "annotations[0].lead_time is '3 s', expected a number"),
        (
            {"result": [region(image_rotation=90)]},
            "annotations[0].result[0].image_rotation is 90: the reviewer turned the image; expected 0",
        ),
        ({"result": [region() | {"value": None}]}, "annotations[0].result[0].value is None"),
        (
            {"result": [region() | {"value": region()["value"] | {"rectanglelabels": ["car", "person"]}}]},
            "annotations[0].result[0].value.rectanglelabels is ['car', 'person'], expected a list of one",
        ),
        (
            {"result": [region() | {"value": region()["value"] | {"rectanglelabels": [""]}}]},
            "annotations[0].result[0].value.rectanglelabels is [''], expected a list of one label",
        ),
        ({"result": [region(x=math.nan)]}, "annotations[0].result[0].value.x is nan, expected a number"),
        (
            {"result": [region(width=-1)]},
            "annotations[0].result[0].value.width is -1, expected a number >= 0",
        ),
        (
            {"result": [region(height=True)]},
            "annotations[0].result[0].value.height is True, expected a number",
        ),
    ],
)
def test_a_malformed_annotation_names_the_field(change, message):
    with pytest.raises(AnnotationFormatError) as raised:
        parse_answers(task(annotation([region()]) | change))
    assert str(raised.value).startswith(message)


def test_a_region_without_any_size_cannot_be_placed():
    bare = region()
    del bare["original_width"], bare["original_height"]
    with pytest.raises(AnnotationFormatError, match=r"r has no original_width and original_height, and the"):
        region_to_box("r", bare, None)


def test_labels_outside_the_runs_are_read_and_left_for_the_answer_checks_to_drop():
    [answer] = parse_answers(task(annotation([region(label="dog"), region()])))
    assert [box.label for box in answer.boxes] == ["dog", "car"]
    checked = check_answers([answer], ["car", "person"], SIZE)
    assert [box.label for box in checked.answers[0].boxes] == ["car"]


# Round trips between pixels and percent


@st.composite
def boxes_in(draw, width, height):
    left = draw(st.integers(0, width - 1))
    top = draw(st.integers(0, height - 1))
    return Box(
        label=draw(label_names),
        left=left,
        top=top,
        width=draw(st.integers(0, width - left)),
        height=draw(st.integers(0, height - top)),
        score=draw(st.none() | st.floats(0, 1)),
    )


@st.composite
def image_and_box(draw):
    width, height = draw(st.integers(1, 8000)), draw(st.integers(1, 8000))
    return (width, height), draw(boxes_in(width, height))


@given(image_and_box())
def test_a_whole_pixel_box_survives_percent_and_back(sized):
    size, box = sized
    config = LabelingConfig(image="image", control="label", labels=(box.label,))
    back, seen = region_to_box("r", box_to_region(box, size, config), size)
    assert seen == size
    assert back == Box(box.label, box.left, box.top, box.width, box.height, source="human")


@given(
    st.integers(1, 8000),
    st.integers(1, 8000),
    st.floats(0, 100),
    st.floats(0, 100),
    st.floats(0, 100),
    st.floats(0, 100),
)
def test_a_percent_box_comes_back_within_half_a_pixel(width, height, x, y, w, h):
    box, _ = region_to_box("r", region(x, y, w, h, original_width=width, original_height=height), None)
    assert abs(box.left - x * width / 100) <= 0.5
    assert abs(box.right - (x + w) * width / 100) <= 0.5 + 1e-9 * width
    assert abs(box.top - y * height / 100) <= 0.5
    assert abs(box.bottom - (y + h) * height / 100) <= 0.5 + 1e-9 * height
