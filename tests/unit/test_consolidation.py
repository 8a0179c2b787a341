import math
from dataclasses import replace

import pytest
from box_strategies import int_boxes
from hypothesis import given, settings
from hypothesis import strategies as st

from hitl_detection.domain.boxes import Box
from hitl_detection.domain.consolidation import consolidate_answers


def human(label, left, top, width, height):
    return Box(label, left, top, width, height, score=None, source="human")


def test_one_reviewer_keeps_its_boxes_as_drawn():
    boxes = [human("dog", 10.5, 3, 7.25, 2), Box("cat", 1, 1, 2, 2, score=0.9, source="model")]
    assert consolidate_answers([boxes]) == [boxes[0], human("cat", 1, 1, 2, 2)]


def test_no_reviewer_gives_no_box():
    assert consolidate_answers([]) == []


def test_two_reviewers_average_matched_boxes_and_keep_single_ones():
    first = [human("dog", 0, 0, 10, 10), human("cat", 50, 50, 5, 5)]
    second = [human("dog", 2, 1, 10, 10)]
    assert consolidate_answers([first, second]) == [
        human("cat", 50, 50, 5, 5),  # one of two reviewers drew it: ceil(2/2) = 1
        human("dog", 1, 1, 10, 10),  # mean edges 1, 0.5, 11, 10.5, rounded half up
    ]


def test_three_reviewers_need_two_to_agree():
    dog, cat = human("dog", 0, 0, 10, 10), human("cat", 50, 50, 5, 5)
    assert consolidate_answers([[dog, cat], [dog], []]) == [dog]
    assert consolidate_answers([[dog, cat], [dog, cat], []]) == [cat, dog]


def test_labels_are_never_merged():
    assert consolidate_answers([[human("dog", 0, 0, 10, 10)], [human("cat", 0, 0, 10, 10)], []]) == []


def test_match_threshold_decides_what_is_the_same_box():
    first, second = [human("dog", 0, 0, 10, 10)], [human("dog", 4, 0, 10, 10)]  # IoU 6/14
    assert len(consolidate_answers([first, second])) == 2
    assert consolidate_answers([first, second], iou_threshold=0.4) == [human("dog", 2, 0, 10, 10)]


def test_each_reviewer_contributes_at_most_one_box_per_cluster():
    twin = [human("dog", 0, 0, 10, 10), human("dog", 1, 0, 10, 10)]
    merged = consolidate_answers([twin, [human("dog", 0, 0, 10, 10)], []])
    assert merged == [human("dog", 0, 0, 10, 10)]


@pytest.mark.parametrize("iou_threshold", [0, 1.5])
def test_rejects_bad_threshold(iou_threshold):
    with pytest.raises(ValueError, match="iou_threshold"):
        consolidate_answers([[], []], iou_threshold=iou_threshold)


reviewer_boxes = st.lists(int_boxes(max_side=60), max_size=6)
answers = st.lists(reviewer_boxes, min_size=2, max_size=5)


@settings(max_examples=60)
@given(answers, st.randoms(use_true_random=False))
def test_order_of_reviewers_and_boxes_does_not_matter(reviewers, random):
    shuffled = [random.sample(boxes, len(boxes)) for boxes in reviewers]
    random.shuffle(shuffled)
    assert consolidate_answers(shuffled) == consolidate_answers(reviewers)


@given(reviewer_boxes, st.integers(2, 5))
def test_identical_reviewers_give_their_boxes(boxes, count):
    expected = sorted(
        (replace(box, score=None, source="human") for box in boxes),
        key=lambda box: (box.label, box.top, box.left, box.width, box.height),
    )
    assert consolidate_answers([boxes] * count) == expected


@given(answers)
def test_results_are_human_whole_pixel_boxes_with_a_quorum(reviewers):
    merged = consolidate_answers(reviewers)
    quorum = math.ceil(len(reviewers) / 2)
    assert len(merged) * quorum <= sum(len(boxes) for boxes in reviewers)
    drawn_labels = {box.label for boxes in reviewers for box in boxes}
    for box in merged:
        assert (box.source, box.score) == ("human", None)
        assert box.label in drawn_labels
        assert all(isinstance(value, int) for value in box.coords)
