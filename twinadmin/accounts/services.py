"""Writes of the accounts app: a user's authenticator (TOTP, django-otp) set up, confirmed and
removed, the code step of a sign-in, and the audit entry of a sign-in lockout."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from twinadmin.audit.services import audit_record

DEVICE_NAME = "authenticator"


class TwoFactorError(ValueError):
    """A code or a step of the setup was refused; nothing changed but the device's throttle."""


def two_factor_begin(*, user: Any) -> TOTPDevice:
    """A new, unconfirmed authenticator with a fresh secret. It counts for nothing until a code
    from it is confirmed; an earlier unconfirmed one (a QR code shown but never used) goes."""
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise TwoFactorError("An authenticator is already set up: remove it first.")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def two_factor_confirm(*, request: HttpRequest, code: str) -> TOTPDevice:
    """Confirm the pending authenticator with a code from it; this session counts as verified."""
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if device is None:
        raise TwoFactorError("Start the setup first: there is no authenticator waiting for a code.")
    _check_code(device, code)
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    otp_login(request, device)
    _audit_device(request, "account.two_factor.add", device)
    return device


def two_factor_remove(*, request: HttpRequest, code: str) -> None:
    """Remove the user's authenticator; a current code from it proves the user holds it."""
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    if device is None:
        raise TwoFactorError("No authenticator is set up.")
    _check_code(device, code)
    device.delete()
    _audit_device(request, "account.two_factor.remove", device)


def two_factor_sign_in(*, request: HttpRequest, code: str) -> None:
    """The code step of a sign-in: after the password, a code from the user's authenticator."""
    device = TOTPDevice.objects.filter(user=request.user, confirmed=True).first()
    if device is None:
        raise TwoFactorError("No authenticator is set up.")
    _check_code(device, code)
    otp_login(request, device)


def _check_code(device: TOTPDevice, code: str) -> None:
    # django-otp throttles a device after wrong codes (a growing wait) and refuses a code
    # already used: both come back as False from verify_token, the wait told apart here.
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        raise TwoFactorError("Too many wrong codes: wait a minute, then try the current code.")
    if not device.verify_token(code):
        raise TwoFactorError("That code is not right (or was used already): try the current one.")


def account_lockout_record(*, request: HttpRequest, username: str | None, ip_address: str | None) -> None:
    """Audit the sign-in that locked a username or an address out: once per lockout, on the
    failure that reached the limit (django-axes signals again on every refused try while it
    lasts, which would let anyone fill the log). Never the password."""
    if getattr(request, "axes_failures_since_start", None) != settings.AXES_FAILURE_LIMIT:
        return
    audit_record(
        actor="anonymous",
        action="account.lockout",
        target_type="account",
        target_id=(username or "")[:512],
        outcome="failure",
        details={
            "username": username or "",
            "address": ip_address or "",
            "failures": settings.AXES_FAILURE_LIMIT,
            "cooloff_minutes": settings.LOGIN_COOLOFF_MINUTES,
        },
    )


def _audit_device(request: HttpRequest, action: str, device: TOTPDevice) -> None:
    audit_record(
        actor=request.user,
        action=action,
        target_type="account",
        target_id=request.user.get_username(),
        outcome="success",
        details={"device": device.name, "kind": "totp"},
    )
