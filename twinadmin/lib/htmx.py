"""The two HTMX conventions every page follows (STYLE.md): one URL per resource, answering htmx
with a named partial of the same template; and after a POST, a redirect htmx follows as a full
navigation (HX-Redirect) or a plain 302 without JavaScript."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_htmx.http import HttpResponseClientRedirect


def partial_template(request: HttpRequest, template: str, partial: str) -> str:
    """`template#partial` for an htmx request, the whole `template` otherwise."""
    return f"{template}#{partial}" if getattr(request, "htmx", False) else template


def redirect_after_post(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if getattr(request, "htmx", False) else redirect(url)
