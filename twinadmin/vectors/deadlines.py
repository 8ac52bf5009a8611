"""How long index calls may go on retrying depends on who waits for them. A worker's job rides
out a rate limit for PINECONE_RETRY_DEADLINE_SECONDS per call (minutes: under a limit the requests
in flight take turns, and a migration only has to wait); a page someone is looking at gives up
PINECONE_PAGE_DEADLINE_SECONDS after the request came in and says the index is busy, instead of
holding the request (and a web worker) for minutes. The page's deadline is one point in time for
the whole request, not a duration per call: a page that makes ten calls to a refusing index waits
the deadline once, not ten times. Past it, each further call is tried once and not retried.

`PageDeadlineMiddleware` sets the deadline for every web request; the adapter reads what is left
of it per call (`call_deadline`), and the pools that fan a page's calls out carry it to their
threads (twinadmin.lib.concurrency)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from contextvars import ContextVar
from typing import Any

from twinadmin.lib.concurrency import context_value

# The monotonic time by which the current caller wants its index calls answered (None: no limit).
_ends_at: ContextVar[float | None] = ContextVar("index_calls_end_at", default=None)


def deadline_at_most(seconds: float) -> AbstractContextManager[None]:
    """Index calls made inside stop retrying `seconds` from now (or at an earlier deadline
    already set around them, or at their own per-call deadline if that comes first)."""
    ends_at = time.monotonic() + seconds
    outer = _ends_at.get()
    return context_value(_ends_at, ends_at if outer is None else min(outer, ends_at))


def call_deadline(configured: float) -> float:
    """Seconds a call made now may retry for: its configured deadline, or what is left of the
    caller's if that is shorter (0 once it has passed: the call is tried once)."""
    ends_at = _ends_at.get()
    if ends_at is None:
        return configured
    return min(configured, max(0.0, ends_at - time.monotonic()))


class PageDeadlineMiddleware:
    """Every web request's index calls within PINECONE_PAGE_DEADLINE_SECONDS of its arrival."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        from django.conf import settings

        with deadline_at_most(float(settings.PINECONE_PAGE_DEADLINE_SECONDS)):
            return self.get_response(request)
