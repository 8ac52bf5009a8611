"""Telling the approvers: an email to the approvers group when a creator erasure is filed (it
waits for one of them) and when one fails verification (it stays open until retried).

Mail is a side effect outside the database, so it goes out only once the transaction that
filed or closed the request has committed (`on_commit`): a rolled-back filing sends nothing.
Sending is best effort: the request is the record and the navigation counts what awaits
approval, so a mail server that refuses or times out is logged and never undoes or fails the
filing or the job. Nothing is audited for it: the audit log records decisions and destructive
steps, not deliveries.

The message says no more than the request page shows an approver: request number, creator id,
reason, ticket, who filed it, and for a failure what is left; never the creator's vectors or
metadata.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction

from twinadmin.accounts.roles import APPROVERS
from twinadmin.erasure.models import ErasureRequest

logger = logging.getLogger(__name__)


def approvers_notify_filed(erasure: ErasureRequest) -> None:
    """After commit: "request #N awaits your approval", to the approvers other than whoever
    filed it (four eyes: they cannot decide it)."""
    subject = f"Erasure request #{erasure.pk} of {erasure.creator_id} awaits approval"
    body = _body(
        erasure,
        "A creator erasure request was filed and awaits an approver's decision.",
        "Review what it covers and approve or reject it",
    )
    _send_on_commit(subject, body, exclude_user_id=erasure.requested_by_id)


def approvers_notify_failed(erasure: ErasureRequest) -> None:
    """After commit: "request #N was not verified", with what is left (as the page shows it)."""
    subject = f"Erasure request #{erasure.pk} of {erasure.creator_id} failed verification"
    body = _body(
        erasure,
        f"The erasure ran (attempt {erasure.attempts}) but could not verify everything gone; the "
        f"request stays open until an operator retries it.\n\nFailures: {erasure.last_error}",
        "See what is left",
    )
    _send_on_commit(subject, body)


def _body(erasure: ErasureRequest, what: str, action: str) -> str:
    lines = [
        what,
        "",
        f"Request:      #{erasure.pk}",
        f"Creator id:   {erasure.creator_id}",
        f"Reason:       {erasure.reason}",
    ]
    if erasure.ticket_reference:
        lines.append(f"Ticket:       {erasure.ticket_reference}")
    lines += [
        f"Requested by: {erasure.requested_by_name}",
        "",
        f"{action}: {settings.TWINADMIN_BASE_URL}{erasure.get_absolute_url()}",
    ]
    return "\n".join(lines) + "\n"


def _send_on_commit(subject: str, body: str, *, exclude_user_id: int | None = None) -> None:
    # Built now, sent after commit: the text is what this transaction wrote, even if the row
    # moves on (approved, retried) before the callback runs.
    transaction.on_commit(lambda: _send(subject, body, exclude_user_id=exclude_user_id))


def _send(subject: str, body: str, *, exclude_user_id: int | None) -> None:
    try:
        recipients = _approver_addresses(exclude_user_id)
        if recipients:
            EmailMessage(subject=subject, body=body, to=recipients).send()
    except Exception:
        # Best effort by design (module docstring): never let mail break filing or the job.
        logger.exception("could not email the approvers: %s", subject)


def _approver_addresses(exclude_user_id: int | None) -> list[str]:
    """Active members of the approvers group who have an email address. Superusers may
    approve too but are not mailed unless they are in the group: the group is the rota."""
    users = get_user_model().objects.filter(is_active=True, groups__name=APPROVERS).exclude(email="")
    if exclude_user_id is not None:
        users = users.exclude(pk=exclude_user_id)
    return sorted(set(users.values_list("email", flat=True)))
