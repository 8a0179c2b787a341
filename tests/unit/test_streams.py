"""Bounded, ordered concurrency over a stream: the results of a plain map, never more in flight."""

import threading
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitl_detection.domain.streams import WINDOW_PER_WORKER, chunked, ordered_map


@given(st.lists(st.integers(), max_size=60), st.integers(1, 8))
def test_ordered_map_gives_what_map_gives_in_order(items, workers):
    assert list(ordered_map(lambda x: x * 2, items, workers=workers)) == [x * 2 for x in items]


def test_never_more_calls_at_once_than_workers_and_all_workers_used():
    lock = threading.Lock()
    running = peak = 0

    def call(item):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.01)
        with lock:
            running -= 1
        return item

    assert list(ordered_map(call, range(40), workers=4)) == list(range(40))
    assert peak == 4


def test_the_input_is_read_only_as_far_as_the_window():
    consumed = []

    def items():
        for item in range(1000):
            consumed.append(item)
            yield item

    results = ordered_map(lambda x: x, items(), workers=2)
    assert next(results) == 0
    assert len(consumed) <= 2 * WINDOW_PER_WORKER + 1
    results.close()


def test_an_error_is_raised_in_order_and_later_calls_are_not_started():
    started = []

    def call(item):
        started.append(item)
        if item == 3:
            raise RuntimeError("item 3 failed")
        time.sleep(0.005)
        return item

    results = ordered_map(call, range(500), workers=2)
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(RuntimeError, match="item 3 failed"):
        next(results)
    assert len(started) < 500


def test_workers_must_be_positive():
    with pytest.raises(ValueError, match="workers 0 is below 1"):
        next(ordered_map(str, [1], workers=0))


@given(st.lists(st.integers(), max_size=50), st.integers(1, 7))
def test_chunked_cuts_in_order_with_only_the_last_chunk_short(items, size):
    chunks = list(chunked(items, size))
    assert [item for chunk in chunks for item in chunk] == items
    assert all(len(chunk) == size for chunk in chunks[:-1])
    assert all(0 < len(chunk) <= size for chunk in chunks)


def test_chunk_size_must_be_positive():
    with pytest.raises(ValueError, match="size 0 is below 1"):
        list(chunked([1], 0))
