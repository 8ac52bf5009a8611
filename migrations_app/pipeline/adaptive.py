"""Adaptive concurrency: how many units a phase keeps in flight, found while it runs.

A fixed number is wrong somewhere: on loopback eight writers only queue in the server (its
upsert time grew from 8 to 60 ms), while over a 20 ms round trip eight is too few. The
controller climbs a hill: every window of completed units it compares latency with the best seen
and throughput with the window before, adds one unit in flight while latency holds or throughput
still grows (additive increase), takes one away when latency climbs without a throughput gain
(the server is queueing) and halves them when the index throttles (429s: multiplicative
decrease). `MIGRATION_CONCURRENCY` set to a number fixes
the window instead (`fixed`).

`adaptive_map` is the engine's ordered map with a window the controller moves: results in input
order, at most `limit` calls submitted and not handed back, `items` pulled lazily on the caller's
thread (where the database connection lives), and on an error or an early stop nothing new
starts and every running call finishes first (as twinadmin.lib.concurrency.bounded_map).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

GROWTH = 0.5  # share of the ideal gain of one more unit in flight that counts as growing
LATENCY_TOLERANCE = 1.5  # latency this many times the best seen, without a gain: queueing


class ConcurrencyController:
    """AIMD over throughput and latency. Thread-safe: `completed` is called from pool threads.

    `throttles` returns a running count of rate-limit answers the index saw (each one, even when
    its retry succeeded); a window in which it grew halves the limit."""

    def __init__(
        self,
        *,
        initial: int = 4,
        minimum: int = 1,
        maximum: int = 32,
        fixed: bool = False,
        throttles: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= minimum <= initial <= maximum:
            raise ValueError(f"need 1 <= minimum <= initial <= maximum, got {minimum}, {initial}, {maximum}")
        self.minimum, self.maximum, self.fixed = minimum, maximum, fixed
        self._limit = initial
        self._throttles = throttles or (lambda: 0)
        self._clock = clock
        self._lock = threading.Lock()
        self._window_start = clock()
        self._window_done = 0
        self._window_latency = 0.0
        self._throttles_seen = self._throttles()
        self._last_rate = 0.0
        self._best_latency = float("inf")
        self.history: list[int] = [initial]  # the limit after every decision (for the bench)

    @classmethod
    def fixed_at(cls, workers: int) -> ConcurrencyController:
        workers = max(1, workers)
        return cls(initial=workers, minimum=workers, maximum=workers, fixed=True)

    @property
    def limit(self) -> int:
        return self._limit

    def completed(self, latency: float) -> None:
        """One unit finished after `latency` seconds."""
        if self.fixed:
            return
        with self._lock:
            self._window_done += 1
            self._window_latency += latency
            if self._window_done >= max(4, self._limit):
                self._decide()

    def _decide(self) -> None:
        now = self._clock()
        elapsed = max(now - self._window_start, 1e-9)
        rate = self._window_done / elapsed
        latency = self._window_latency / self._window_done
        self._best_latency = min(self._best_latency, latency)
        throttles = self._throttles()
        throttled = throttles > self._throttles_seen
        # One more in flight is worth 1/limit more throughput when nothing queues; half of that
        # still counts as growing.
        growing = rate >= self._last_rate * (1 + GROWTH / self._limit)
        if throttled:
            self._limit = max(self.minimum, self._limit // 2)
        elif latency <= self._best_latency * LATENCY_TOLERANCE or growing:
            self._limit = min(self.maximum, self._limit + 1)
        else:  # latency climbed and throughput did not follow: the index is queueing
            self._limit = max(self.minimum, self._limit - 1)
        self.history.append(self._limit)
        self._throttles_seen = throttles
        # After a throttle the next window starts from scratch: its rate is not compared with
        # a window the limit was too high for.
        self._last_rate = 0.0 if throttled else rate
        self._window_start, self._window_done, self._window_latency = now, 0, 0.0


def adaptive_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    controller: ConcurrencyController,
    thread_name_prefix: str = "adaptive-map",
) -> Iterator[R]:
    """`map(fn, items)` in input order, with `controller.limit` calls in flight at most."""
    if controller.maximum <= 1:
        for item in items:
            yield fn(item)
        return

    def timed(item: T) -> R:
        began = time.monotonic()
        result = fn(item)
        controller.completed(time.monotonic() - began)
        return result

    executor = ThreadPoolExecutor(controller.maximum, thread_name_prefix=thread_name_prefix)
    pending: deque[Future[R]] = deque()
    upcoming = iter(items)
    exhausted = False

    def refill() -> None:
        nonlocal exhausted
        while not exhausted and len(pending) < controller.limit:
            try:
                item = next(upcoming)
            except StopIteration:
                exhausted = True
                return
            pending.append(executor.submit(timed, item))

    try:
        refill()
        while pending:
            result = pending.popleft().result()
            refill()  # before handing the result over, so the index is kept busy meanwhile
            yield result
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)
