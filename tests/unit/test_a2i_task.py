import json

import pytest
from box_strategies import LABELS, int_boxes, model_boxes
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain import labels as labels_module
from hitl_detection.domain.a2i_task import (
    MAX_INPUT_CONTENT_CHARS,
    MAX_LABELS,
    TaskInputError,
    build_input_content,
)
from hitl_detection.domain.boxes import Box

URI = "s3://images-bucket/incoming/dog.jpg"


def test_builds_the_task_document():
    content = build_input_content(
        URI,
        [Box("dog", 10, 20, 30, 40, score=0.95)],
        ["dog", "bicycle"],
        [Box("bicycle", 1, 2, 3, 4, score=0.62)],
    )
    assert json.loads(content) == {
        "taskObject": URI,
        "initialValue": [{"label": "dog", "left": 10, "top": 20, "width": 30, "height": 40}],
        "labels": ["dog", "bicycle"],
        "uncertain": [{"label": "bicycle", "left": 1, "top": 2, "width": 3, "height": 4, "score": 0.62}],
    }
    assert " " not in content  # compact


def test_no_initial_box_is_a_valid_task():
    assert json.loads(build_input_content(URI, [], ("dog",)))["initialValue"] == []


def test_rounds_edges_to_whole_pixels():
    content = json.loads(build_input_content(URI, [Box("dog", 1.4, 2.6, 2.2, 0.3)], ["dog"]))
    assert content["initialValue"] == [{"label": "dog", "left": 1, "top": 3, "width": 3, "height": 0}]


def test_max_labels_is_the_label_vocabulary_limit():
    assert MAX_LABELS == labels_module.MAX_LABELS == 10


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([], "labels is empty"),
        ([str(i) for i in range(11)], "labels has 11 labels, above the limit of 10"),
        (["dog", "dog"], r"labels\[1\] 'dog' is a duplicate"),
        ("dog", "labels 'dog' is a str"),
    ],
)
def test_rejects_bad_labels(labels, message):
    with pytest.raises(TaskInputError, match=message):
        build_input_content(URI, [], labels)


def test_initial_boxes_must_use_the_labels():
    boxes = [Box("dog", 0, 0, 1, 1), Box("cat", 0, 0, 1, 1)]
    with pytest.raises(
        TaskInputError, match=r"initial box 1 has label 'cat', which is not among labels \['dog'\]"
    ):
        build_input_content(URI, boxes, ["dog"])


def test_uncertain_boxes_must_use_the_labels():
    with pytest.raises(TaskInputError, match="uncertain box 0 has label 'cat', which is not among labels"):
        build_input_content(URI, [], ["dog"], [Box("cat", 0, 0, 1, 1, score=0.5)])


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("https://example.com/dog.jpg", "image_s3_uri: 'https://example.com/dog.jpg' is not an S3 URI"),
        ("s3://images-bucket/incoming/", "image_s3_uri 's3://images-bucket/incoming/' names a prefix"),
        ("s3://images-bucket", "names a prefix, expected an image object"),
    ],
)
def test_rejects_bad_image_uri(uri, message):
    with pytest.raises(TaskInputError, match=message):
        build_input_content(uri, [], ["dog"])


def test_enforces_the_a2i_size_limit():
    label = "x" * 1000
    boxes = [Box(label, i, i, 1, 1) for i in range(3200)]
    with pytest.raises(
        TaskInputError, match=r"InputContent is 3,\d{3},\d{3} characters, above the A2I limit of 3,145,728"
    ):
        build_input_content(URI, boxes, [label])


@given(st.lists(model_boxes, max_size=30), st.lists(model_boxes, max_size=30))
def test_every_box_is_shown_in_whole_pixels(initial, uncertain):
    content = build_input_content(URI, initial, LABELS, uncertain)
    assert len(content) <= MAX_INPUT_CONTENT_CHARS
    document = json.loads(content)
    assert [box["label"] for box in document["initialValue"]] == [box.label for box in initial]
    assert [box["score"] for box in document["uncertain"]] == [box.score for box in uncertain]
    for box in document["initialValue"] + document["uncertain"]:
        assert all(isinstance(box[key], int) for key in ("left", "top", "width", "height"))


@given(st.lists(int_boxes(), max_size=10))
def test_whole_pixel_boxes_are_unchanged(boxes):
    document = json.loads(build_input_content(URI, boxes, LABELS))
    assert document["initialValue"] == [box.to_a2i() for box in boxes]
