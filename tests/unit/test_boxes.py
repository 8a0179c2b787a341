import pytest
from box_strategies import int_boxes, model_boxes
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.boxes import Box, check_iou_threshold, iou, match_boxes


def test_edges_area_and_coords():
    box = Box("dog", left=10, top=20, width=30, height=40, score=0.5)
    assert (box.right, box.bottom, box.area) == (40, 60, 1200)
    assert box.coords == (10, 20, 30, 40)
    assert box.source == "model"


def test_record_and_a2i_shapes():
    box = Box("dog", 1, 2, 3, 4, score=0.75, source="model")
    assert box.to_record() == {
        "label": "dog",
        "left": 1,
        "top": 2,
        "width": 3,
        "height": 4,
        "score": 0.75,
        "source": "model",
    }
    assert box.to_a2i() == {"label": "dog", "left": 1, "top": 2, "width": 3, "height": 4}


@given(st.one_of(model_boxes, int_boxes()))
def test_from_record_inverts_to_record(box):
    assert Box.from_record(box.to_record()) == box


def test_from_record_defaults_score_and_source():
    assert Box.from_record({"label": "dog", "left": 1, "top": 2, "width": 3, "height": 4}) == Box(
        "dog", 1, 2, 3, 4
    )


def test_from_record_names_missing_fields():
    with pytest.raises(ValueError, match="box record lacks width, height; expected the fields label, left"):
        Box.from_record({"label": "dog", "left": 1, "top": 2})


def test_rejects_unknown_source():
    with pytest.raises(ValueError, match="box source 'robot' is not one of model, human"):
        Box("dog", 0, 0, 1, 1, source="robot")


@pytest.mark.parametrize(("width", "height"), [(-1, 1), (1, -0.5)])
def test_rejects_negative_size(width, height):
    with pytest.raises(ValueError, match=r"box 'dog' has size .*; expected width and height >= 0"):
        Box("dog", 0, 0, width, height)


def test_iou_known_values():
    a = Box("dog", 0, 0, 2, 2)
    assert iou(a, a) == 1.0
    assert iou(a, Box("cat", 1, 1, 2, 2)) == pytest.approx(1 / 7)  # labels do not matter
    assert iou(a, Box("dog", 0, 0, 4, 2)) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "other",
    [
        Box("dog", 5, 5, 2, 2),  # disjoint
        Box("dog", 2, 0, 2, 2),  # touching edges
        Box("dog", 1, 1, 0, 0),  # zero area, inside
        Box("dog", 1, 0, 0, 2),  # zero width
    ],
)
def test_iou_is_zero_without_overlap_area(other):
    assert iou(Box("dog", 0, 0, 2, 2), other) == 0.0
    assert iou(other, Box("dog", 0, 0, 2, 2)) == 0.0


@given(int_boxes(), int_boxes())
def test_iou_is_symmetric_and_bounded(a, b):
    assert iou(a, b) == iou(b, a)
    assert 0.0 <= iou(a, b) <= 1.0
    assert iou(a, a) == 1.0


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, r"iou_threshold 0 is outside \(0, 1\]"),
        (1.5, r"iou_threshold 1.5 is outside \(0, 1\]"),
        (True, "iou_threshold True is not a number"),
        ("0.5", "iou_threshold '0.5' is not a number"),
    ],
)
def test_check_iou_threshold_rejects(value, message):
    with pytest.raises(ValueError, match=message):
        check_iou_threshold(value)


def test_match_boxes_pairs_by_highest_iou_one_to_one():
    first = [Box("dog", 0, 0, 10, 10), Box("dog", 3, 0, 10, 10)]
    second = [Box("dog", 3, 0, 10, 10), Box("dog", 1, 0, 10, 10), Box("dog", 50, 50, 5, 5)]
    assert match_boxes(first, second, 0.5) == [(0, 1), (1, 0)]


def test_match_boxes_requires_same_label_and_threshold():
    first = [Box("dog", 0, 0, 10, 10), Box("cat", 100, 100, 10, 10)]
    second = [Box("cat", 0, 0, 10, 10), Box("cat", 105, 100, 10, 10)]
    assert match_boxes(first, second, 0.5) == []
    assert match_boxes(first, second, 0.3) == [(1, 1)]


def test_match_boxes_breaks_ties_by_index():
    box = Box("dog", 0, 0, 10, 10)
    assert match_boxes([box, box], [box, box], 0.5) == [(0, 0), (1, 1)]


@given(st.lists(int_boxes(), max_size=6), st.lists(int_boxes(), max_size=6))
def test_match_boxes_is_one_to_one_within_labels(first, second):
    pairs = match_boxes(first, second, 0.5)
    assert len({i for i, _ in pairs}) == len({j for _, j in pairs}) == len(pairs)
    for i, j in pairs:
        assert first[i].label == second[j].label
        assert iou(first[i], second[j]) >= 0.5
