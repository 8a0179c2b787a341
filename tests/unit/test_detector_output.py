import json

import pytest
from box_strategies import label_names, scores
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.detector_output import DetectorOutputError, parse_detections

DOG = {"id": "dog", "score": 0.93, "left": 10, "top": 20, "right": 110, "bottom": 220}


def test_parses_gluoncv_output():
    payload = json.dumps(
        [DOG, {"id": "bicycle", "score": 0.5, "left": 0, "top": 0, "right": 5.5, "bottom": 4}]
    )
    assert parse_detections(payload) == [
        Box("dog", 10, 20, 100, 200, score=0.93, source="model"),
        Box("bicycle", 0, 0, 5.5, 4, score=0.5, source="model"),
    ]


@pytest.mark.parametrize("payload", [json.dumps([DOG]).encode(), json.dumps([DOG]), [DOG], bytearray(b"[]")])
def test_accepts_bytes_text_or_a_list(payload):
    expected = [] if payload == bytearray(b"[]") else [Box("dog", 10, 20, 100, 200, score=0.93)]
    assert parse_detections(payload) == expected


def test_empty_list_is_no_detection():
    assert parse_detections(b"[]", image_size=(10, 10)) == []


def test_ignores_extra_fields():
    assert parse_detections([{**DOG, "class_id": 16}]) == [Box("dog", 10, 20, 100, 200, score=0.93)]


def test_allows_one_pixel_outside_the_image():
    item = {"id": "dog", "score": 1, "left": -1, "top": -1, "right": 641, "bottom": 481}
    assert parse_detections([item], image_size=(640, 480)) == [Box("dog", -1, -1, 642, 482, score=1)]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff\xfe[]", "detector output is not UTF-8 text"),
        ("<html>502 Bad Gateway</html>", r"detector output is not JSON: .*starts with '<html>502"),
        ('{"predictions": []}', "detector output is a JSON object, expected a JSON list of detections"),
        ("null", "detector output is a null, expected a JSON list"),
        ("3", "detector output is a int, expected a JSON list"),
        (
            [DOG, "dog"],
            "detection 1 is a string, expected an object with id, score, left, top, right, bottom",
        ),
        ([[1, 2]], "detection 0 is a JSON list, expected an object"),
        (
            [{"id": "dog", "score": 0.5, "left": 1, "top": 1}],
            "detection 0 has no right, bottom; expected id, score",
        ),
        ([{**DOG, "id": ""}], "detection 0 id '' is not a class name; expected a non-empty string"),
        ([{**DOG, "id": "  "}], "detection 0 id '  ' is not a class name"),
        ([{**DOG, "id": 16}], "detection 0 id 16 is not a class name"),
        ([DOG, {**DOG, "left": "10"}], "detection 1 left '10' is a string, expected a number"),
        ([{**DOG, "top": None}], "detection 0 top None is a null, expected a number"),
        ([{**DOG, "score": True}], "detection 0 score True is a bool, expected a number"),
        (
            '[{"id": "dog", "score": NaN, "left": 1, "top": 1, "right": 2, "bottom": 2}]',
            "detection 0 score is nan",
        ),
        ([{**DOG, "right": float("inf")}], "detection 0 right is inf, expected a finite number"),
        ([{**DOG, "score": 1.01}], "detection 0 score 1.01 is outside 0-1"),
        ([{**DOG, "score": -0.1}], "detection 0 score -0.1 is outside 0-1"),
        ([{**DOG, "right": 9}], "detection 0 right 9 is left of left 10"),
        ([{**DOG, "bottom": 19}], "detection 0 bottom 19 is above top 20"),
    ],
)
def test_rejects_malformed_output(payload, message):
    with pytest.raises(DetectorOutputError, match=message):
        parse_detections(payload)


@pytest.mark.parametrize(
    "overrides",
    [{"left": -2}, {"top": -1.5}, {"right": 642}, {"bottom": 481.5}],
)
def test_rejects_a_box_outside_the_image(overrides):
    item = {"id": "dog", "score": 0.9, "left": 0, "top": 0, "right": 640, "bottom": 480, **overrides}
    with pytest.raises(
        DetectorOutputError, match=r"detection 0 box \(left .*\) is outside the 640x480 image"
    ):
        parse_detections([item], image_size=(640, 480))


detections = st.builds(
    lambda label, score, left, top, width, height: {
        "id": label,
        "score": score,
        "left": left,
        "top": top,
        "right": left + width,
        "bottom": top + height,
    },
    label_names,
    scores,
    st.integers(0, 300),
    st.integers(0, 300),
    st.integers(0, 300),
    st.integers(0, 300),
)


@given(st.lists(detections, max_size=20))
def test_every_valid_detection_becomes_its_box(items):
    boxes = parse_detections(json.dumps(items).encode(), image_size=(600, 600))
    assert [(b.label, b.score, b.left, b.top, b.right, b.bottom) for b in boxes] == [
        (d["id"], d["score"], d["left"], d["top"], d["right"], d["bottom"]) for d in items
    ]
    assert all(box.source == "model" for box in boxes)
