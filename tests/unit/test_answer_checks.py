"""Reviewers' answers checked against the run's labels and the stored image before they are merged."""

from box_strategies import int_boxes
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.answer_checks import CHECK_KINDS, CheckedAnswers, check_answers
from hitl_detection.domain.boxes import Box
from hitl_detection.domain.review_tasks import ReviewerAnswer

LABELS = ("car", "person")
SIZE = (640, 400)
CAR = Box("car", 10, 20, 30, 40, source="human")


def answer(*boxes, worker="w-1", size=SIZE):
    return ReviewerAnswer(worker, tuple(boxes), size, "2026-12-01T10:00:00Z", 3.0)


def test_a_valid_answer_is_kept_as_it_is():
    checked = check_answers([answer(CAR)], LABELS, SIZE)
    assert checked == CheckedAnswers((answer(CAR),))
    assert checked.to_record() == {kind: [] for kind in CHECK_KINDS}


def test_boxes_of_other_labels_with_no_area_or_outside_the_image_are_dropped():
    zebra = Box("zebra", 10, 20, 30, 40, source="human")
    markup = Box("<b>car</b>", 10, 20, 30, 40, source="human")
    huge = Box("car", 5000, 4000, 9000, 9000, source="human")
    empty = Box("person", 5, 5, 0, 0, source="human")
    flat = Box("person", 5, 5, 20, 0, source="human")

    checked = check_answers([answer(zebra, CAR, markup, huge, empty, flat)], LABELS, SIZE)

    assert checked.answers == (answer(CAR),)
    assert [(item["box"]["label"], item["reason"]) for item in checked.dropped] == [
        ("zebra", "label 'zebra' is not one of the run's labels ['car', 'person']"),
        ("<b>car</b>", "label '<b>car</b>' is not one of the run's labels ['car', 'person']"),
        ("car", "the box lies outside the 640x400 image"),
        ("person", "the box has no area (0x0)"),
        ("person", "the box has no area (20x0)"),
    ]
    assert {item["reviewer"] for item in checked.dropped} == {"w-1"}
    assert checked.dropped[0]["box"] == zebra.to_record()


def test_a_box_reaching_out_of_the_image_is_cut_at_its_edges():
    reaching = Box("car", -10, 380, 700, 40, source="human")

    checked = check_answers([answer(reaching)], LABELS, SIZE)

    clipped = Box("car", 0, 380, 640, 20, source="human")
    assert checked.answers == (answer(clipped),)
    assert checked.clipped == (
        {"reviewer": "w-1", "box": reaching.to_record(), "clipped_to": clipped.to_record()},
    )


def test_an_answer_drawn_on_an_image_of_another_size_is_refused_whole():
    turned = answer(CAR, worker="w-2", size=(400, 640))

    checked = check_answers([answer(CAR), turned], LABELS, SIZE)

    assert checked.answers == (answer(CAR),)
    assert checked.refused == (
        {
            "reviewer": "w-2",
            "reason": "drawn on the image as 400x640, but the stored image is 640x400 (turned by its EXIF "
            "orientation, or resized?): its boxes would be misplaced",
        },
    )
    only_turned = check_answers([turned], LABELS, SIZE)
    assert only_turned.answers == ()
    assert (
        only_turned.why_none == f"every reviewer's answer was refused (w-2: {checked.refused[0]['reason']})"
    )


def test_an_answer_that_does_not_say_its_size_is_checked_against_the_stored_image():
    huge = Box("car", 5000, 4000, 9000, 9000, source="human")
    checked = check_answers([answer(CAR, huge, size=None)], LABELS, SIZE)
    assert (checked.answers, len(checked.dropped), checked.refused) == ((answer(CAR, size=None),), 1, ())


def test_without_the_stored_size_only_labels_and_empty_boxes_are_checked():
    huge = Box("car", 5000, 4000, 9000, 9000, source="human")
    assert check_answers([answer(huge, size=(1, 1))], LABELS, None).answers == (answer(huge, size=(1, 1)),)
    assert check_answers([], LABELS, SIZE).why_none == "no reviewer answered"


@given(
    st.lists(st.lists(int_boxes(max_side=900), max_size=6), min_size=1, max_size=3),
    st.integers(1, 800),
    st.integers(1, 800),
)
def test_every_box_is_kept_inside_the_image_or_accounted_for(boxes_per_reviewer, width, height):
    labels = ("dog", "person")
    answers = [
        answer(*boxes, worker=f"w-{index}", size=None) for index, boxes in enumerate(boxes_per_reviewer)
    ]

    checked = check_answers(answers, labels, (width, height))

    kept = [box for kept_answer in checked.answers for box in kept_answer.boxes]
    assert len(kept) + len(checked.dropped) == sum(len(boxes) for boxes in boxes_per_reviewer)
    for box in kept:
        assert box.label in labels
        assert 0 <= box.left < box.right <= width
        assert 0 <= box.top < box.bottom <= height
    for item in checked.clipped:
        assert Box.from_record(item["clipped_to"]) in kept
    assert checked.refused == ()
