"""How long one index call may go on retrying depends on who waits for it. A worker's job rides
out a rate limit for PINECONE_RETRY_DEADLINE_SECONDS (minutes: under a limit the requests in
flight take turns, and a migration only has to wait); a page someone is looking at gives up after
PINECONE_PAGE_DEADLINE_SECONDS and says the index is busy, instead of holding the request (and a
web worker) for minutes. `PageDeadlineMiddleware` sets the shorter deadline for every web request;
the adapter reads it per call (`call_deadline`), and the pools that fan a page's calls out carry it
to their threads (twinadmin.lib.concurrency)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from contextvars import ContextVar
from typing import Any

from twinadmin.lib.concurrency import context_value

_deadline: ContextVar[float | None] = ContextVar("index_call_deadline", default=None)


def deadline_at_most(seconds: float) -> AbstractContextManager[None]:
    """Index calls made inside retry for at most `seconds` (or their own deadline if shorter)."""
    return context_value(_deadline, seconds)


def call_deadline(configured: float) -> float:
    """The deadline of a call made now: the configured one, or the caller's if shorter."""
    override = _deadline.get()
    return configured if override is None else min(configured, override)


class PageDeadlineMiddleware:
    """Every web request's index calls within PINECONE_PAGE_DEADLINE_SECONDS."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        from django.conf import settings

        with deadline_at_most(float(settings.PINECONE_PAGE_DEADLINE_SECONDS)):
            return self.get_response(request)
