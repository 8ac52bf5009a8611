"""Filing and deciding a creator's erasure: the four-eyes rule, and what the approver saw.

The decisions live apart from the job because they are the part a person takes responsibility
for: an approval records the scope read live at that moment and refuses when it no longer matches
what the page showed, so nothing is erased that nobody looked at. Each step is audited under the
request's correlation id, which the job (execute.py) carries on. The shell (`delete_creator`)
counts as approval and goes through the same steps, not around them.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from twinadmin.api.events import erasure_event
from twinadmin.audit.services import audit_record
from twinadmin.erasure import notify
from twinadmin.erasure.models import OPEN_STATUSES, ErasureRequest
from twinadmin.erasure.scope import Scope, erasure_scope_read
from twinadmin.jobs.leases import job_enqueue
from twinadmin.jobs.models import Job
from twinadmin.registry import codec
from twinadmin.registry.models import Creator
from twinadmin.registry.services import creator_mark_erasure_pending
from twinadmin.vectors.errors import VectorError

from .common import (
    KIND_ERASE_CREATOR,
    ErasureError,
    ErasureForbidden,
    _actor_parts,
    _new_job,
    _required,
    _validated,
)
from .remnants import creator_remnants


def erasure_request_file(
    *,
    creator_id: str,
    reason: str,
    ticket_reference: str = "",
    confirm: str,
    actor: Any,
    again_if_erased: bool = False,
    notify_approvers: bool = True,
) -> ErasureRequest:
    """File a request. An erased creator is refused while nothing of theirs remains (read live);
    when something does (Drift's alarm), a new request erases it again. `again_if_erased`: the
    shell's `delete_creator`, which re-runs an erasure to check it again (idempotent by design)."""
    _validated(creator_id)
    status = Creator.objects.filter(creator_id=creator_id).values_list("status", flat=True).first()
    if status is None:
        raise ErasureError(f"Unknown creator {creator_id!r}.")
    if (
        status == Creator.Status.ERASED
        and not again_if_erased
        and creator_remnants(creator_id=creator_id)["clean"]
    ):
        raise ErasureError(f"Creator {creator_id!r} is already erased; nothing of theirs remains.")
    if (confirm or "").strip() != creator_id:
        raise ErasureError(f"To confirm, type the creator id {creator_id!r} exactly.")
    reason = _required(reason, "reason")
    user, name = _actor_parts(actor)
    try:
        with transaction.atomic():
            erasure = ErasureRequest.objects.create(
                creator_id=creator_id,
                reason=reason,
                ticket_reference=(ticket_reference or "").strip(),
                requested_by=user,
                requested_by_name=name,
            )
            _audit_request(erasure, actor, "creator.erase.request", {"reason": reason})
            if notify_approvers:
                notify.approvers_notify_filed(erasure)
    except IntegrityError:
        raise ErasureError(
            f"Creator {creator_id!r} already has an open erasure request "
            f"(#{_open_request_id(creator_id)}); finish or reject it first."
        ) from None
    return erasure


def _open_request_id(creator_id: str) -> int | None:
    return (
        ErasureRequest.objects.filter(creator_id=creator_id, status__in=OPEN_STATUSES)
        .values_list("pk", flat=True)
        .first()
    )


def _audit_request(erasure: ErasureRequest, actor: Any, action: str, details: dict[str, Any]) -> None:
    audit_record(
        actor=actor,
        action=action,
        target_type="request",
        target_id=str(erasure.pk),
        creator_id=erasure.creator_id,
        outcome="info",
        details={"request": erasure.pk, "ticket": erasure.ticket_reference, **details},
        correlation_id=erasure.correlation_id,
    )


def _locked(erasure: ErasureRequest) -> ErasureRequest:
    return ErasureRequest.objects.select_for_update().get(pk=erasure.pk)


def _start(erasure: ErasureRequest, actor: Any, *, enqueue: bool) -> Job:
    """Queue a job for an approved request (first run or retry); the creator can no longer get
    new twins while it is pending erasure."""
    job = _new_job(KIND_ERASE_CREATOR, actor)
    erasure.job = job
    erasure.attempts += 1
    erasure.status = ErasureRequest.Status.APPROVED
    erasure.last_error = ""
    erasure.save(update_fields=["job", "attempts", "status", "last_error"])
    creator_mark_erasure_pending(creator_id=erasure.creator_id)
    if enqueue:
        job_enqueue(job)
    return job


def erasure_request_approve(
    *,
    erasure: ErasureRequest,
    actor: Any,
    confirm: str | None = None,
    scope_digest: str | None = None,
    enqueue: bool = True,
) -> ErasureRequest:
    """Four eyes: an approver who is not the requester types the creator id. A `cli:` actor is
    shell access, which counts as approval (delete_creator).

    The scope is read live and recorded on the request; its digest goes into the approval's
    audit entry. `scope_digest` is the digest of the scope the approver was shown: when it no
    longer matches (something changed since the page was read), nothing is approved."""
    user, name = _actor_parts(actor)
    _check_pending(erasure)
    if user is not None:
        _check_decider(erasure, user)
        if (confirm or "").strip() != erasure.creator_id:
            raise ErasureError(f"To approve, type the creator id {erasure.creator_id!r} exactly.")
    scope = erasure_scope_live(creator_id=erasure.creator_id)
    if scope_digest is not None and scope_digest != scope.digest:
        raise ErasureError(
            "What this erasure covers has changed since the page was loaded; review the scope "
            "below and approve again."
        )
    with transaction.atomic():
        erasure = _locked(erasure)
        _check_pending(erasure)  # again, under the lock: two approvers at once approve once
        erasure.approved_by = user
        erasure.approved_by_name = name
        erasure.approved_at = timezone.now()
        erasure.approved_scope = scope.record()
        erasure.approved_scope_digest = scope.digest
        erasure.save(
            update_fields=[
                "approved_by",
                "approved_by_name",
                "approved_at",
                "approved_scope",
                "approved_scope_digest",
            ]
        )
        job = _start(erasure, actor, enqueue=enqueue)
        _audit_request(
            erasure,
            actor,
            "creator.erase.approve",
            {
                "job": job.pk,
                "scope_digest": scope.digest,
                "scope_read_at": scope.read_at,
                "scope": _scope_summary(scope),
            },
        )
        erasure_event(erasure)  # webhooks: erasure.approved, sent after the commit
    return erasure


def erasure_scope_live(*, creator_id: str) -> Scope:
    """The scope read now; an index that cannot be read is a refusal with its reason, not an
    approval of a scope nobody saw."""
    try:
        return erasure_scope_read(creator_id=creator_id)
    except VectorError as exc:
        raise ErasureError(f"The index cannot be read to show what this erasure covers: {exc}") from None


def _scope_summary(scope: Scope) -> dict[str, Any]:
    """Counts of what the approver saw (the full scope is on the request; names are capped)."""
    return {
        "namespaces": len(scope.namespaces),
        "lineage_sources": [
            {"name": e.name, "copied_ids": e.copied_ids, "count": e.count} for e in scope.lineage
        ][:50],
        "backups": len(scope.backups),
        "migrations": [m["run"] for m in scope.migrations][:50],
        "total_vectors": scope.total_vectors,
    }


def _check_pending(erasure: ErasureRequest) -> None:
    if erasure.status != ErasureRequest.Status.PENDING:
        raise ErasureError(
            f"Request #{erasure.pk} is {erasure.get_status_display().lower()}, not awaiting approval."
        )


def _check_decider(erasure: ErasureRequest, user: Any) -> None:
    if erasure.can_be_decided_by(user):
        return
    if erasure.is_requested_by(user):
        raise ErasureForbidden("You filed this request: another approver must decide it.")
    raise ErasureForbidden("Only approvers decide erasure requests.")


def erasure_request_reject(*, erasure: ErasureRequest, actor: Any, note: str = "") -> ErasureRequest:
    user, name = _actor_parts(actor)
    if user is None:
        raise ErasureForbidden("Rejections are made by an approver on the request page.")
    with transaction.atomic():
        erasure = _locked(erasure)
        _check_pending(erasure)
        _check_decider(erasure, user)
        if not (note or "").strip():
            raise ErasureError("Give a note saying why the request is rejected.")
        erasure.status = ErasureRequest.Status.REJECTED
        erasure.rejected_by_name = name
        erasure.rejected_at = timezone.now()
        erasure.rejection_note = (note or "").strip()
        erasure.save(update_fields=["status", "rejected_by_name", "rejected_at", "rejection_note"])
        _audit_request(erasure, actor, "creator.erase.reject", {"note": erasure.rejection_note})
    return erasure


def erasure_request_retry(*, erasure: ErasureRequest, actor: Any, enqueue: bool = True) -> ErasureRequest:
    """Run an approved request again: after a failed verification, or when its job ended
    without closing it (cancelled before it started)."""
    with transaction.atomic():
        erasure = _locked(erasure)
        if not erasure_needs_retry(erasure):
            raise ErasureError(
                f"Request #{erasure.pk} is {erasure.get_status_display().lower()}; nothing to retry."
            )
        job = _start(erasure, actor, enqueue=enqueue)
        _audit_request(erasure, actor, "creator.erase.retry", {"job": job.pk, "attempt": erasure.attempts})
    return erasure


def erasure_needs_retry(erasure: ErasureRequest) -> bool:
    if erasure.status == ErasureRequest.Status.FAILED:
        return True
    job = erasure.job
    return erasure.is_active and job is not None and job.is_finished


def erasure_from_shell(
    *,
    creator_id: str,
    reason: str,
    ticket_reference: str = "",
    command: str = "delete_creator",
    requested_by: Any = None,
) -> ErasureRequest:
    """`delete_creator`: shell access counts as approval. Files and approves a request, or
    carries on with the creator's open one (approving it if it awaits approval, retrying it if
    it failed). Returns the request with its job queued or ready to run. `requested_by`: who
    asked, when not the shell itself (an operator who started an erasure drill); the approval
    is still the command's."""
    actor = f"cli:{command}"
    open_id = _open_request_id(creator_id) if codec.is_valid_id(creator_id) else None
    if open_id is None:
        erasure = erasure_request_file(
            creator_id=creator_id,
            reason=reason,
            ticket_reference=ticket_reference,
            confirm=creator_id,
            actor=requested_by or actor,
            again_if_erased=True,
            notify_approvers=False,  # the shell approves it at once: nothing awaits an approver
        )
        return erasure_request_approve(erasure=erasure, actor=actor, enqueue=False)
    erasure = ErasureRequest.objects.get(pk=open_id)
    if erasure.status == ErasureRequest.Status.PENDING:
        return erasure_request_approve(erasure=erasure, actor=actor, enqueue=False)
    if erasure_needs_retry(erasure):
        return erasure_request_retry(erasure=erasure, actor=actor, enqueue=False)
    return erasure  # approved or running: the caller runs (or takes over) its job
