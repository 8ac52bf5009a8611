"""Receivers of other packages' signals; each hands over to a service."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.dispatch import receiver

from twinadmin.accounts.services import account_lockout_record


@receiver(user_locked_out, dispatch_uid="accounts-lockout-audit")
def _audit_lockout(
    sender: Any, request: Any, username: str | None, ip_address: str | None, **kwargs: Any
) -> None:
    account_lockout_record(request=request, username=username, ip_address=ip_address)
