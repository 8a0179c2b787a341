"""Work over a stream of items with a bounded number of calls in flight, results in input order.

Detection, review start and collection each call a slow service once per image. Keeping a fixed
number of calls in flight across the whole run (not per batch) is what lets a run go at the
service's own bound, while memory holds only a window of items, never the run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

# Items submitted ahead of the oldest unfinished one, per worker: slack so that one slow call does
# not idle the other workers, while memory stays bounded by the window.
WINDOW_PER_WORKER = 4


def ordered_map(function: Callable[[T], R], items: Iterable[T], *, workers: int) -> Iterator[R]:
    """`function` over `items` with at most `workers` calls at once; results in input order.

    Lazy on both sides: `items` is read only as far as the window needs. An exception from a
    call is raised here, in order, and the calls not yet started are cancelled.
    """
    if workers < 1:
        raise ValueError(f"workers {workers} is below 1")
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ordered-map")
    window: deque[Future[R]] = deque()
    try:
        for item in items:
            window.append(pool.submit(function, item))
            if len(window) >= workers * WINDOW_PER_WORKER:
                yield window.popleft().result()
        while window:
            yield window.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last may be shorter)."""
    if size < 1:
        raise ValueError(f"size {size} is below 1")
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
