"""Adaptive concurrency (migrations_app.pipeline.adaptive): units in flight grow while throughput
grows, shrink when latency climbs without a gain or the index throttles, and the ordered map
keeps its promises (input order, at most `limit` in flight, errors after running calls end)."""

from __future__ import annotations

import threading
import time

import pytest

from migrations_app.pipeline.adaptive import ConcurrencyController, adaptive_map


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _drive(controller: ConcurrencyController, clock: FakeClock, service) -> None:
    """Complete one window of units, each taking `service(limit)` seconds of latency, with
    `limit` of them overlapping: the window lasts `latency * units / limit`."""
    limit = controller.limit
    latency = service(limit)
    units = max(4, limit)
    clock.now += latency * units / limit
    for _ in range(units):
        controller.completed(latency)


def test_the_limit_climbs_while_throughput_grows():
    """A 20 ms round trip the server does not feel: more in flight is more throughput."""
    clock = FakeClock()
    controller = ConcurrencyController(initial=2, maximum=32, clock=clock)
    for _ in range(40):
        _drive(controller, clock, lambda limit: 0.020)
    assert controller.limit == 32


def test_the_limit_settles_where_the_server_starts_queueing():
    """Loopback, a server that serves 4 at once: past 4, latency grows and throughput does not."""
    clock = FakeClock()
    controller = ConcurrencyController(initial=2, maximum=32, clock=clock)
    seen = []
    for _ in range(60):
        _drive(controller, clock, lambda limit: 0.008 * max(1.0, limit / 4))
        seen.append(controller.limit)
    assert min(seen[-20:]) >= 3 and max(seen[-20:]) <= 8


def test_throttling_halves_the_limit():
    clock = FakeClock()
    throttles = [0]
    controller = ConcurrencyController(initial=16, maximum=32, clock=clock, throttles=lambda: throttles[0])
    _drive(controller, clock, lambda limit: 0.02)
    before = controller.limit
    throttles[0] += 3  # 429s answered (and retried) during the next window
    _drive(controller, clock, lambda limit: 0.02)
    assert controller.limit == before // 2


def test_a_fixed_controller_never_moves():
    clock = FakeClock()
    controller = ConcurrencyController.fixed_at(3)
    for _ in range(10):
        _drive(controller, clock, lambda limit: 0.02)
    assert controller.limit == 3


def test_bad_bounds_are_refused():
    with pytest.raises(ValueError, match="minimum <= initial <= maximum"):
        ConcurrencyController(initial=40, maximum=32)


def test_results_come_back_in_order_with_at_most_limit_in_flight():
    controller = ConcurrencyController.fixed_at(3)
    running, most = 0, 0
    lock = threading.Lock()

    def work(n: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.002 * (n % 3))
        with lock:
            running -= 1
        return n * n

    assert list(adaptive_map(work, range(30), controller=controller)) == [n * n for n in range(30)]
    assert most <= 3


def test_an_error_is_raised_after_the_calls_already_running_finish():
    controller = ConcurrencyController.fixed_at(4)
    finished = []

    def work(n: int) -> int:
        if n == 2:
            raise RuntimeError("unit 2 failed")
        time.sleep(0.01)
        finished.append(n)
        return n

    results = []
    with pytest.raises(RuntimeError, match="unit 2 failed"):
        for value in adaptive_map(work, range(100), controller=controller):
            results.append(value)
    assert results == [0, 1]
    running_when_raised = set(finished)
    time.sleep(0.05)
    assert set(finished) == running_when_raised  # nothing still running, nothing new started
    assert len(finished) < 10
