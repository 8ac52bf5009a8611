"""poll_until: checks until converged, backs off, never sleeps past its deadline."""

from __future__ import annotations

import time

import pytest

from twinadmin.lib.polling import poll_until


def test_it_stops_at_the_first_success_and_counts_rounds():
    seen: list[int] = []
    renewed: list[int] = []
    assert poll_until(
        lambda n: seen.append(n) or n == 3, timeout=5, initial=0.01, on_round=lambda: renewed.append(1)
    )
    assert seen == [1, 2, 3] and len(renewed) == 2


def test_it_gives_up_at_the_deadline_without_oversleeping():
    started = time.monotonic()
    assert poll_until(lambda n: False, timeout=0.3, initial=0.05, maximum=5.0) is False
    assert time.monotonic() - started < 0.3 + 0.2


def test_a_timeout_of_zero_checks_once():
    seen: list[int] = []
    assert poll_until(lambda n: seen.append(n) or False, timeout=0) is False
    assert seen == [1]


def test_errors_from_the_check_propagate():
    def boom(n: int) -> bool:
        raise RuntimeError("index down")

    with pytest.raises(RuntimeError, match="index down"):
        poll_until(boom, timeout=5)
