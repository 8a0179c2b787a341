"""What passes between the pipeline and a review backend."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.review_tasks import ReviewOutcome, ReviewProgress, ReviewTicket


@given(st.text(min_size=1), st.none() | st.text(), st.booleans())
def test_a_ticket_survives_json(name, handle, reused):
    ticket = ReviewTicket(name, handle, reused)
    assert ReviewTicket.from_json(json.loads(json.dumps(ticket.to_json()))) == ticket


@pytest.mark.parametrize(
    ("progress", "done", "text"),
    [
        (ReviewProgress(2, 2), True, "2 of 2 review tasks finished (0 failed)"),
        (ReviewProgress(2, 3), True, "3 of 2 review tasks finished (0 failed)"),
        (
            ReviewProgress(2, 2, pending=("a",)),
            False,
            "2 of 2 review tasks finished (0 failed)",
        ),
        (
            ReviewProgress(10, 3, failed=("x",), pending=("a", "b")),
            False,
            "3 of 10 review tasks finished (1 failed); 7 pending: a, b and 5 more",
        ),
        (
            ReviewProgress(2, 1),
            False,
            "1 of 2 review tasks finished (0 failed); 1 pending: none listed yet and 1 more",
        ),
        (
            ReviewProgress(1, 0, pending=("a",)),
            False,
            "0 of 1 review tasks finished (0 failed); 1 pending: a",
        ),
    ],
)
def test_progress_is_done_and_described(progress, done, text):
    assert progress.done is done
    assert progress.describe() == text


def test_an_outcome_with_an_error_failed():
    assert ReviewOutcome("t", (), {"backend": "a2i"}, error="Expired").failed
    assert not ReviewOutcome("t", (), {"backend": "a2i"}).failed


def test_tasks_missing_from_the_sweep_are_unlisted_and_deleted_ones_count_as_failed():
    progress = ReviewProgress(4, 1, failed=("x",), pending=("a",), listed=2)
    assert progress.unlisted == 2
    assert ReviewProgress(2, 2).unlisted == 0  # a backend that does not count its listing
    assert ReviewProgress(2, 2, listed=3).unlisted == 0  # tasks of an earlier try

    deleted = progress.with_deleted(["b", "c"])

    assert deleted == ReviewProgress(4, 3, failed=("x", "b", "c"), pending=("a",), listed=4)
    assert deleted.unlisted == 0
    assert not deleted.done
    assert ReviewProgress(2, 1).with_deleted(["b"]) == ReviewProgress(2, 2, failed=("b",))
    assert ReviewProgress(2, 1).with_deleted(["b"]).done
