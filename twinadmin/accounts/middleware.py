"""Where a session that owes its second factor may go: after the password, a user with an
authenticator reaches only the code page; a user whose role requires one (REQUIRE_2FA_FOR) and
has none reaches only the setup page. Sign-out stays open, and so do the pages open to anyone
(`login_not_required`: the health check, the metrics); static files are served before this.
`role_required` refuses such a session too, should a view ever be reached another way."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import Resolver404, ResolverMatch, resolve, reverse
from django_htmx.http import HttpResponseClientRedirect

from twinadmin.accounts.roles import has_confirmed_device, second_factor_missing

# Pages open to a session that signed in with its password only.
CODE_PAGES = frozenset({"accounts-verify-login", "accounts-logout"})
SETUP_PAGES = CODE_PAGES | {
    "accounts-show-two-factor",
    "accounts-begin-two-factor",
    "accounts-confirm-two-factor",
}


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if second_factor_missing(user):
            if has_confirmed_device(user):
                pages, target = CODE_PAGES, "accounts-verify-login"
            else:
                pages, target = SETUP_PAGES, "accounts-show-two-factor"
            match = _match(request)
            public = match is not None and not getattr(match.func, "login_required", True)
            if not public and (match.url_name if match else "") not in pages:
                return _send_to(request, target)
        return self.get_response(request)


def _match(request: HttpRequest) -> ResolverMatch | None:
    try:
        return resolve(request.path_info)
    except Resolver404:
        return None


def _send_to(request: HttpRequest, name: str) -> HttpResponse:
    url = reverse(name)
    if request.method == "GET" and not getattr(request, "htmx", False):
        url += "?" + urlencode({"next": request.get_full_path()})
        return redirect(url)
    # htmx would swap the page into a fragment: have it navigate instead.
    return HttpResponseClientRedirect(url) if getattr(request, "htmx", False) else redirect(url)
