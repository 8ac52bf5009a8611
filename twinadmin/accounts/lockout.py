"""The two hooks django-axes calls (settings AXES_CLIENT_IP_CALLABLE, AXES_LOCKOUT_CALLABLE): which
address a sign-in comes from, and what a locked-out user or address sees."""

from __future__ import annotations

import ipaddress
import math
from typing import Any

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the header CLIENT_IP_HEADER names when a proxy sets it. Of a list
    (X-Forwarded-For) the right-most entry: the one the proxy in front of us appended; entries
    further left are whatever the client claimed. A value that is no address is not trusted."""
    remote = request.META.get("REMOTE_ADDR")
    header = settings.CLIENT_IP_HEADER
    if not header:
        return remote
    value = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
    candidate = value.split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def lockout_minutes() -> int:
    return math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)


def lockout_message() -> str:
    minutes = lockout_minutes()
    return (
        "Too many failed sign-ins for this account or address; try again in "
        f"{minutes} minute{'s' if minutes != 1 else ''} or ask an administrator."
    )


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The sign-in page again, saying why it refuses and for how long (429)."""
    username = request.POST.get("username", "") if request.method == "POST" else ""
    form = AuthenticationForm(request, initial={"username": username[:150]})
    context = {"form": form, "lockout": lockout_message(), "next": request.POST.get("next", "")}
    return render(request, "registration/login.html", context, status=429)


# axes keeps the username it counts failures for in a 255-character column; a longer one (no
# account has it: Django's are at most 150) would overflow it on PostgreSQL.
AXES_USERNAME_MAX = 255


def lockout_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The username axes counts a failure against: as typed, cut to what its column holds."""
    source = credentials if credentials is not None else request.POST
    username = source.get("username") if hasattr(source, "get") else None
    return str(username)[:AXES_USERNAME_MAX] if username is not None else None
