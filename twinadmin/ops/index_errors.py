"""A page whose view lets an index error through answers 503 ("the index did not answer, try
again") or, when the index's rate limit held past the page's deadline, 429 with Retry-After;
never a 500. Views that can show something useful without the index catch the error themselves
and say so in place; this is the rule for the rest (opening the index, a call made outside a
view's own handling). The API answers the same statuses as Problem Details (twinadmin.api)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from twinadmin.vectors.errors import RateLimited, VectorError

log = logging.getLogger(__name__)


def index_error_status(exc: VectorError) -> tuple[int, dict[str, str]]:
    """The status a request answers when the index failed it, and the headers that go with it."""
    if isinstance(exc, RateLimited):
        wait = exc.retry_after if exc.retry_after is not None else 1.0
        return 429, {"Retry-After": str(max(1, math.ceil(wait)))}
    return 503, {}


class IndexErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not isinstance(exc, VectorError):
            return None
        log.warning("%s %s: the index failed: %s: %s", request.method, request.path, type(exc).__name__, exc)
        status, headers = index_error_status(exc)
        response = render(
            request,
            "index_unavailable.html",
            {"busy": status == 429, "error": f"{type(exc).__name__}: {exc}"},
            status=status,
        )
        for name, value in headers.items():
            response[name] = value
        return response
