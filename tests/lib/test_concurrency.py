"""bounded_map: map in input order, a bounded window, errors and early stops that start nothing
new and leave nothing running, inline when there is nothing to overlap."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from twinadmin.lib.concurrency import bounded_map


class Tracker:
    """Counts calls running at once (under a lock) and remembers which items started."""

    def __init__(self, *, fail_on: int | None = None, delay: float = 0.002) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.most_running = 0
        self.started: list[int] = []
        self.threads: set[int] = set()
        self.fail_on = fail_on
        self.delay = delay

    def __call__(self, item: int) -> int:
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            self.started.append(item)
            self.threads.add(threading.get_ident())
        try:
            time.sleep(self.delay * random.random())
            if item == self.fail_on:
                raise RuntimeError(f"item {item} failed")
            return item * item
        finally:
            with self.lock:
                self.running -= 1


def pulled(counter: list[int], items: Iterator[int]) -> Iterator[int]:
    for item in items:
        counter[0] += 1
        yield item


@pytest.mark.parametrize(("workers", "window"), [(2, None), (4, 8), (8, 3)])
def test_results_come_back_in_input_order(workers, window):
    fn = Tracker(delay=0.005)
    assert list(bounded_map(fn, range(60), workers=workers, window=window)) == [i * i for i in range(60)]
    assert sorted(fn.started) == list(range(60))


@pytest.mark.parametrize(("workers", "window"), [(4, None), (3, 6), (4, 2)])
def test_calls_in_flight_never_exceed_the_workers_or_the_window(workers, window):
    fn = Tracker(delay=0.01)
    list(bounded_map(fn, range(40), workers=workers, window=window))
    assert 1 < fn.most_running <= min(workers, window or workers)


def test_a_shared_pool_is_bounded_by_the_window_not_by_its_size():
    fn = Tracker(delay=0.01)
    with ThreadPoolExecutor(8) as pool:
        assert list(bounded_map(fn, range(30), workers=3, pool=pool)) == [i * i for i in range(30)]
        assert 1 < fn.most_running <= 3
        # The pool is the caller's: still usable afterwards.
        assert pool.submit(lambda: 42).result() == 42


def test_an_unbounded_iterable_is_pulled_only_as_far_as_the_window():
    count = [0]
    results = bounded_map(lambda i: i, pulled(count, itertools.count()), workers=2, window=4)
    assert [next(results) for _ in range(10)] == list(range(10))
    assert count[0] <= 10 + 4
    results.close()


@pytest.mark.parametrize("pooled", [False, True], ids=["own-pool", "shared-pool"])
def test_an_error_propagates_after_started_calls_finished_and_later_items_never_start(pooled):
    fn = Tracker(fail_on=3)
    window = 4
    with ThreadPoolExecutor(8) as shared:
        results = bounded_map(fn, range(100), workers=2, window=window, pool=shared if pooled else None)
        seen = []
        with pytest.raises(RuntimeError, match="item 3 failed"):
            for result in results:
                seen.append(result)
        assert fn.running == 0  # nothing is still running when the caller sees the error
    assert seen == [0, 1, 4]
    # Only items already in the window when item 3's turn came were ever submitted.
    assert max(fn.started) <= 3 + window - 1
    assert len(fn.started) < 100


def test_stopping_early_starts_nothing_new_and_leaves_nothing_running():
    fn = Tracker(delay=0.005)
    results = bounded_map(fn, range(1000), workers=4, window=8)
    assert next(results) == 0
    results.close()
    assert fn.running == 0
    assert len(fn.started) <= 1 + 8


def test_an_error_pulling_the_items_propagates_and_leaves_nothing_running():
    fn = Tracker(delay=0.005)

    def items() -> Iterator[int]:
        yield from range(5)
        raise LookupError("listing failed")

    with pytest.raises(LookupError, match="listing failed"):
        list(bounded_map(fn, items(), workers=3))
    assert fn.running == 0


@pytest.mark.parametrize(("workers", "items"), [(1, range(10)), (0, range(10)), (8, [5])])
def test_one_worker_or_one_item_runs_inline_on_the_callers_thread(workers, items):
    fn = Tracker()
    assert list(bounded_map(fn, items, workers=workers)) == [i * i for i in items]
    assert fn.threads == {threading.get_ident()}


def test_inline_errors_stop_at_once():
    fn = Tracker(fail_on=2)
    with pytest.raises(RuntimeError, match="item 2 failed"):
        list(bounded_map(fn, range(10), workers=1))
    assert fn.started == [0, 1, 2]


def test_calls_run_on_pool_threads_when_there_is_something_to_overlap():
    fn = Tracker()
    list(bounded_map(fn, range(20), workers=4))
    assert threading.get_ident() not in fn.threads


def test_a_window_below_one_is_refused():
    with pytest.raises(ValueError, match="window"):
        list(bounded_map(lambda i: i, range(3), workers=2, window=0))
