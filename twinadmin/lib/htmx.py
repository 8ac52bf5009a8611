"""The HTMX conventions every page follows (STYLE.md): one URL per resource, answering htmx with a
named partial of the same template; a polling fragment that stops the polling (286) once what it
shows is over; and after a POST, a redirect htmx follows as a full navigation (HX-Redirect) or a
plain 302 without JavaScript."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django_htmx.http import HttpResponseClientRedirect, HttpResponseStopPolling
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request that went through `HtmxMiddleware` (every request here does): `request.htmx`
    is falsy for a plain request, and says what htmx sent otherwise."""

    htmx: HtmxDetails


def partial_template(request: HttpRequest, template: str, partial: str) -> str:
    """`template#partial` for an htmx request, the whole `template` otherwise."""
    return f"{template}#{partial}" if getattr(request, "htmx", False) else template


def render_polling(
    request: HtmxHttpRequest,
    template: str,
    context: Mapping[str, Any],
    *,
    finished: bool,
    partial: str = "progress",
    status: int = 200,
) -> HttpResponse:
    """A page whose fragment htmx polls: the whole page normally; for htmx, the `partial` of the
    same template, answered with 286 once `finished`, so htmx swaps this last fragment in and
    stops polling."""
    response = render(request, partial_template(request, template, partial), context, status=status)
    if finished and request.htmx:
        response.status_code = HttpResponseStopPolling.status_code
    return response


def redirect_after_post(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if getattr(request, "htmx", False) else redirect(url)
