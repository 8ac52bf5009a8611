"""Polling until eventually consistent state converges (counts and listings lag writes and
deletes), on tenacity: one definition of "check, back off exponentially, give up at a deadline"
for erasure verification, index cleanup and the migration engine."""

from __future__ import annotations

from collections.abc import Callable

import tenacity


def poll_until(
    check: Callable[[int], bool],
    *,
    timeout: float,
    initial: float = 0.1,
    maximum: float = 5.0,
    on_round: Callable[[], None] | None = None,
) -> bool:
    """Call `check(round)` (rounds count from 1) until it returns True or `timeout` seconds
    have passed, sleeping `initial`, twice that, ... at most `maximum` in between, never past
    the deadline; `on_round()` runs after each unsuccessful round (renew a lease, heartbeat).
    Returns whether `check` succeeded. Exceptions from `check` propagate at once."""
    rounds = 0

    def attempt() -> bool:
        nonlocal rounds
        rounds += 1
        return check(rounds)

    def between(_: tenacity.RetryCallState) -> None:
        if on_round is not None:
            on_round()

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_result(lambda done: not done),
        stop=tenacity.stop_before_delay(max(0.0, timeout)),
        wait=tenacity.wait_exponential(multiplier=initial, exp_base=2, min=initial, max=maximum),
        before_sleep=between,
        retry_error_callback=lambda state: False,
    )
    return bool(retrying(attempt))
