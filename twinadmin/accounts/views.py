"""The code step of a sign-in and the page where a user sets up or removes an authenticator."""

from __future__ import annotations

import base64
from collections.abc import Callable

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from twinadmin.accounts import services
from twinadmin.accounts.forms import CodeForm
from twinadmin.accounts.roles import has_confirmed_device, is_verified, two_factor_required


@login_required
@require_http_methods(["GET", "POST"])
def verify_login(request: HttpRequest) -> HttpResponse:
    next_url = _safe_next(request)
    # `next_url` is a checked path (_safe_next): redirect() would try a bare word as a URL name.
    if is_verified(request.user) or not has_confirmed_device(request.user):
        return HttpResponseRedirect(next_url)
    form = CodeForm(request.POST or None)
    if form.is_valid():
        try:
            services.two_factor_sign_in(request=request, code=form.cleaned_data["code"])
        except services.TwoFactorError as exc:
            form.add_error("code", str(exc))
        else:
            return HttpResponseRedirect(next_url)
    return render(request, "accounts/verify_login.html", {"form": form, "next": next_url})


@login_required
@require_GET
def show_two_factor(request: HttpRequest) -> HttpResponse:
    return _two_factor_page(request, CodeForm())


@login_required
@require_POST
def begin_two_factor(request: HttpRequest) -> HttpResponse:
    try:
        services.two_factor_begin(user=request.user)
    except services.TwoFactorError as exc:
        messages.error(request, str(exc))
    return redirect("accounts-show-two-factor")


@login_required
@require_POST
def confirm_two_factor(request: HttpRequest) -> HttpResponse:
    return _with_code(
        request, services.two_factor_confirm, "Two-factor sign-in is on: each sign-in now asks for a code."
    )


@login_required
@require_POST
def remove_two_factor(request: HttpRequest) -> HttpResponse:
    done = "Your authenticator is removed: sign-in asks for the password only."
    return _with_code(request, services.two_factor_remove, done)


def _with_code(request: HttpRequest, action: Callable[..., object], done: str) -> HttpResponse:
    """A change to the user's authenticator that a current code from it must authorise."""
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            action(request=request, code=form.cleaned_data["code"])
        except services.TwoFactorError as exc:
            form.add_error("code", str(exc))
        else:
            messages.success(request, done)
            return redirect("accounts-show-two-factor")
    return _two_factor_page(request, form, status=400)


def _two_factor_page(request: HttpRequest, form: CodeForm, status: int = 200) -> HttpResponse:
    user = request.user
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    pending = None if confirmed else TOTPDevice.objects.filter(user=user, confirmed=False).first()
    context = {
        "form": form,
        "confirmed": confirmed,
        "pending": pending,
        "required": two_factor_required(user),
        "required_roles": ", ".join(settings.REQUIRE_2FA_FOR),
    }
    if pending is not None:
        # An inline SVG in the page's markup: a data: image would need img-src data:.
        qr = segno.make(pending.config_url, error="m")
        context["qr_svg"] = mark_safe(qr.svg_inline(scale=4, border=4, light="#fff", title="QR code to scan"))  # noqa: S308
        context["secret"] = _base32_groups(pending)
    return render(request, "accounts/two_factor.html", context, status=status)


def _base32_groups(device: TOTPDevice) -> str:
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _safe_next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse(settings.LOGIN_REDIRECT_URL)
