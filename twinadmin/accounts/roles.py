"""Roles are Django groups (created by a data migration). Every view checks permission through
`role_required`, the one shared helper, so the role matrix lives in one place: the roles, and
whether a session still owes its second factor (REQUIRE_2FA_FOR, a confirmed TOTP device)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django_otp import user_has_device

OPERATORS = "operators"
APPROVERS = "approvers"
AUDITORS = "auditors"
ALL_ROLES = (OPERATORS, APPROVERS, AUDITORS)


def user_roles(user: Any) -> frozenset[str]:
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return frozenset(ALL_ROLES)
    cached = getattr(user, "_twinadmin_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=ALL_ROLES).values_list("name", flat=True))
        user._twinadmin_roles = cached
    return cached


def has_role(user: Any, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def two_factor_required(user: Any) -> bool:
    """One of the user's roles is listed in REQUIRE_2FA_FOR (a superuser holds every role)."""
    return bool(user_roles(user) & set(settings.REQUIRE_2FA_FOR))


def has_confirmed_device(user: Any) -> bool:
    """The user has set up and confirmed an authenticator (cached on the user, one query)."""
    cached = getattr(user, "_twinadmin_has_device", None)
    if cached is None:
        cached = user.is_authenticated and user_has_device(user, confirmed=True)
        user._twinadmin_has_device = cached
    return cached


def is_verified(user: Any) -> bool:
    """This session signed in with a code from the user's device (django-otp's middleware)."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def second_factor_missing(user: Any) -> bool:
    """Signed in with the password only, where a code is owed: the user has a device (the code
    step is not done yet), or their role requires one (no device set up yet)."""
    if not user.is_authenticated or is_verified(user):
        return False
    return two_factor_required(user) or has_confirmed_device(user)


def forbidden(request: HttpRequest, reason: str) -> HttpResponse:
    """403 with its reason: a page inside the layout (with the navigation) for a page request,
    the reason alone for HTMX, whose fragment must not become a whole page."""
    if getattr(request, "htmx", False):
        return HttpResponseForbidden(reason)
    return render(request, "403.html", {"reason": reason}, status=403)


def role_required(*roles: str) -> Callable:
    """Anonymous: redirect to login for a plain page view, 403 for HTMX and POST (a redirect
    there would swap a login form into a fragment or drop the POST). Signed in without one of
    `roles`, or owing the second factor (`second_factor_missing`): 403."""
    allowed = roles or ALL_ROLES

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                if request.method != "GET" or getattr(request, "htmx", False):
                    return HttpResponseForbidden("Sign in first.")
                return redirect_to_login(request.get_full_path())
            if not has_role(request.user, *allowed):
                return forbidden(request, "Your role does not allow this.")
            if second_factor_missing(request.user):
                return forbidden(request, "Sign in with your authenticator's code first.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
