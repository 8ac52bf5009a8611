"""Deleting twins and erasing creators: filing, four-eyes approval, and the jobs that do the work.

Every destructive job writes an audit entry before (intent, counts) and after (outcome,
verification), all with the job's correlation id. Jobs are idempotent and checkpointed on the
rows here, so a re-run, a retry or a take-over after a killed worker ends in the same verified
state (leases.py).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from twinadmin.audit.services import audit_record
from twinadmin.erasure import backups
from twinadmin.erasure.leases import (
    job_enqueue,
    lease_acquire,
    lease_prepare,
    lease_release,
    lease_renew,
    runner_label,
)
from twinadmin.erasure.lineage import lineage_erase, lineage_rows_sync, lineage_verify
from twinadmin.erasure.models import OPEN_STATUSES, ErasureNamespace, ErasureRequest, TwinDeletion
from twinadmin.erasure.namespaces import (
    concurrently,
    has_ids,
    namespace_count,
    owned_namespaces,
    verify_creator_gone,
    verify_namespace_gone,
)
from twinadmin.erasure.scope import Scope, approved_names, erasure_scope_read
from twinadmin.erasure.scope import kind_of as scope_kind_of
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_create, job_progress
from twinadmin.lineage.selectors import lineage_copies_present, lineage_sources
from twinadmin.registry import codec
from twinadmin.registry.models import Creator, Twin
from twinadmin.registry.services import index_namespaces_reread, index_snapshot_apply
from twinadmin.vectors import get_index
from twinadmin.vectors.errors import VectorError

log = logging.getLogger(__name__)

KIND_DELETE_TWIN = "delete_twin"
KIND_ERASE_CREATOR = "erase_creator"
# New namespaces of the creator turning up during verification (written meanwhile) are erased
# and verification runs again, at most this many times per job.
MAX_VERIFY_PASSES = 3


class ErasureError(ValueError):
    """Bad input or a refused step: a clear message, nothing changed."""


class ErasureForbidden(ErasureError):
    """The step is not this person's to take (four eyes)."""


class ErasureIncomplete(RuntimeError):
    """The job ran but could not verify everything gone; the rows say what is left."""


def _actor_parts(actor: Any) -> tuple[Any, str]:
    """(User or None, name as recorded): a User, or a `cli:<command>` string."""
    if isinstance(actor, str):
        return None, actor
    return actor, actor.get_username()


def _job_actor(job: Job) -> Any:
    """Whom a job's audit entries name: the user who started it, or the command."""
    return job.created_by or job.params.get("actor") or None


def _validated(creator_id: str, twin_id: str | None = None) -> None:
    try:
        codec.validate_creator_id(creator_id)
        if twin_id is not None:
            codec.validate_twin_id(twin_id)
    except codec.InvalidId as exc:
        raise ErasureError(str(exc)) from None


def _required(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ErasureError(f"Give a {what}.")
    return text


def _new_job(kind: str, actor: Any) -> Job:
    user, name = _actor_parts(actor)
    job = job_create(kind=kind, params={"actor": name}, user=user, enqueue=False)
    lease_prepare(job)
    return job


# --- twin deletion ------------------------------------------------------------------------


def twin_deletion_request(
    *, creator_id: str, twin_id: str, reason: str, confirm: str, actor: Any, enqueue: bool = True
) -> TwinDeletion:
    """File the deletion of one twin's namespace and queue its job. Filing again while one is
    in flight returns that one."""
    _validated(creator_id, twin_id)
    twin = Twin.objects.filter(creator__creator_id=creator_id, twin_id=twin_id).first()
    if twin is None:
        raise ErasureError(f"Creator {creator_id!r} has no twin {twin_id!r}.")
    if (confirm or "").strip() != twin_id:
        raise ErasureError(f"To confirm, type the twin id {twin_id!r} exactly.")
    reason = _required(reason, "reason")
    user, name = _actor_parts(actor)
    try:
        with transaction.atomic():
            job = _new_job(KIND_DELETE_TWIN, actor)
            deletion = TwinDeletion.objects.create(
                creator_id=creator_id,
                twin_id=twin_id,
                namespace=codec.twin_namespace(creator_id, twin_id),
                reason=reason,
                requested_by=user,
                requested_by_name=name,
                job=job,
            )
            audit_record(
                actor=actor,
                action="twin.delete.request",
                target_type="twin",
                target_id=twin_id,
                creator_id=creator_id,
                outcome="info",
                details={
                    "deletion": deletion.pk,
                    "job": job.pk,
                    "namespace": deletion.namespace,
                    "reason": reason,
                },
                correlation_id=job.correlation_id,
            )
            if enqueue:
                job_enqueue(job)
    except IntegrityError:
        active = TwinDeletion.objects.filter(
            creator_id=creator_id, twin_id=twin_id, status__in=TwinDeletion.ACTIVE
        ).first()
        if active is None:
            raise
        return active
    return deletion


def twin_deletion_execute(job: Job) -> dict[str, Any]:
    """The job: delete the namespace, verify it gone, mark the twin deleted. A namespace already
    gone is a verified success."""
    deletion = TwinDeletion.objects.get(job=job)
    lease_acquire(job)
    actor = _job_actor(job)
    index = get_index()
    ns = deletion.namespace
    audit = {
        "actor": actor,
        "target_type": "twin",
        "target_id": deletion.twin_id,
        "creator_id": deletion.creator_id,
        "correlation_id": job.correlation_id,
    }
    if deletion.started_at is None:
        deletion.count_before = namespace_count(index, ns)
        deletion.started_at = timezone.now()
        deletion.status = TwinDeletion.Status.RUNNING
        deletion.save(update_fields=["count_before", "started_at", "status"])
        Twin.objects.filter(
            creator__creator_id=deletion.creator_id, twin_id=deletion.twin_id, status=Twin.Status.ACTIVE
        ).update(status=Twin.Status.DELETING)
        audit_record(
            action="twin.delete.start",
            outcome="intent",
            details={"deletion": deletion.pk, "namespace": ns, "vectors_before": deletion.count_before},
            **audit,
        )
    else:
        audit_record(
            action="twin.delete.resume",
            outcome="info",
            details={
                "deletion": deletion.pk,
                "namespace": ns,
                "continues_job": job.params.get("continues_job"),
            },
            **audit,
        )

    existed = index.delete_namespace(ns)
    if not deletion.delete_outcome:  # the first run's outcome; a resumed run finds it gone
        deletion.delete_outcome = "deleted" if existed else "not_found"
        deletion.save(update_fields=["delete_outcome"])
    lease_renew(job)
    evidence = verify_namespace_gone(index, ns, on_round=lambda: lease_renew(job))
    last_count = evidence["rounds"][-1]["count"]

    with transaction.atomic():
        lease_renew(job)  # fence: never close a deletion another runner has taken over
        deletion.verification = evidence
        deletion.count_after = last_count
        deletion.finished_at = timezone.now()
        if evidence["ok"]:
            deletion.status = TwinDeletion.Status.VERIFIED
            Twin.objects.filter(creator__creator_id=deletion.creator_id, twin_id=deletion.twin_id).update(
                status=Twin.Status.DELETED, vector_count=0, count_observed_at=deletion.finished_at
            )
        else:
            deletion.status = TwinDeletion.Status.FAILED
            deletion.error = (
                f"{ns} still reports {last_count} vectors after {len(evidence['rounds'])} checks."
            )
        deletion.save(update_fields=["verification", "count_after", "finished_at", "status", "error"])
        # The pages read the snapshot: it learns what was verified before the job reports done.
        index_snapshot_apply(observed={ns: last_count})
        audit_record(
            action="twin.delete.finish",
            outcome="success" if evidence["ok"] else "failure",
            details={
                "deletion": deletion.pk,
                "namespace": ns,
                "vectors_before": deletion.count_before,
                "vectors_after": last_count,
                "delete": deletion.delete_outcome,
                "verified": evidence["ok"],
                "verification_rounds": len(evidence["rounds"]),
                "verified_at": evidence["finished_at"],
            },
            **audit,
        )
    lease_release(job)
    if not evidence["ok"]:
        raise ErasureIncomplete(deletion.error)
    return {
        "namespace": ns,
        "vectors_before": deletion.count_before,
        "delete": deletion.delete_outcome,
        "verified": True,
    }


# --- creator erasure: filing and approval --------------------------------------------------


def erasure_request_file(
    *,
    creator_id: str,
    reason: str,
    ticket_reference: str = "",
    confirm: str,
    actor: Any,
    again_if_erased: bool = False,
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
    Creator.objects.filter(creator_id=erasure.creator_id).exclude(status=Creator.Status.ERASED).update(
        status=Creator.Status.ERASURE_PENDING
    )
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
    *, creator_id: str, reason: str, ticket_reference: str = "", command: str = "delete_creator"
) -> ErasureRequest:
    """`delete_creator`: shell access counts as approval. Files and approves a request, or
    carries on with the creator's open one (approving it if it awaits approval, retrying it if
    it failed). Returns the request with its job queued or ready to run."""
    actor = f"cli:{command}"
    open_id = _open_request_id(creator_id) if codec.is_valid_id(creator_id) else None
    if open_id is None:
        erasure = erasure_request_file(
            creator_id=creator_id,
            reason=reason,
            ticket_reference=ticket_reference,
            confirm=creator_id,
            actor=actor,
            again_if_erased=True,
        )
        return erasure_request_approve(erasure=erasure, actor=actor, enqueue=False)
    erasure = ErasureRequest.objects.get(pk=open_id)
    if erasure.status == ErasureRequest.Status.PENDING:
        return erasure_request_approve(erasure=erasure, actor=actor, enqueue=False)
    if erasure_needs_retry(erasure):
        return erasure_request_retry(erasure=erasure, actor=actor, enqueue=False)
    return erasure  # approved or running: the caller runs (or takes over) its job


# --- creator erasure: the job ---------------------------------------------------------------


def _namespaces_sync(
    erasure: ErasureRequest, found: dict[str, int], approved: set[str] | None
) -> list[ErasureNamespace]:
    """The request's own namespaces: the creator-wide one, every registry twin's, and every one
    the index attributes to the creator (orphans). New ones start pending with the count found
    (marked "found at execution" when the approver did not see them); failed ones go back to
    pending for this run; deleted ones keep their checkpoint."""
    cid = erasure.creator_id
    registry_twins = set(Twin.objects.filter(creator__creator_id=cid).values_list("twin_id", flat=True))
    wanted = {codec.creator_namespace(cid): 0}
    wanted.update({codec.twin_namespace(cid, t): 0 for t in registry_twins})
    wanted.update(found)
    existing = set(erasure.namespaces.values_list("name", flat=True))
    ErasureNamespace.objects.bulk_create(
        [
            ErasureNamespace(
                request=erasure,
                name=name,
                kind=scope_kind_of(name, registry_twins),
                twin_id=codec.parse_namespace(name).twin_id or "",
                count_before=count,
                found_at_execution=approved is not None and name not in approved,
            )
            for name, count in sorted(wanted.items())
            if name not in existing
        ],
        batch_size=500,
        ignore_conflicts=True,  # a stalled runner may be adding the same rows
    )
    own = erasure.namespaces.exclude(kind__in=ErasureNamespace.LINEAGE_KINDS)
    own.filter(status=ErasureNamespace.Status.FAILED).update(
        status=ErasureNamespace.Status.PENDING, error="", verified=False
    )
    return list(own)


def _delete_pending(job: Job, erasure: ErasureRequest, rows: list[ErasureNamespace]) -> None:
    """One delete per pending namespace (a few in flight at once), each checkpointed as it
    returns. A worker killed here leaves at most the deletes in flight unrecorded; the next run
    finds those namespaces gone (`not_found`)."""
    index = get_index()
    total = len(rows)
    done = total - sum(1 for r in rows if r.status == ErasureNamespace.Status.PENDING)
    job_progress(job, done=done, total=total, message="deleting namespaces")

    def delete(row: ErasureNamespace) -> bool | VectorError:
        try:
            return index.delete_namespace(row.name)
        except VectorError as exc:  # the adapter already retried; the request stays open
            return exc

    pending = [r for r in rows if r.status == ErasureNamespace.Status.PENDING]
    for row, outcome in zip(pending, concurrently(delete, pending), strict=True):
        if isinstance(outcome, VectorError):
            row.status, row.error = ErasureNamespace.Status.FAILED, f"{type(outcome).__name__}: {outcome}"
        else:
            row.status = ErasureNamespace.Status.DELETED if outcome else ErasureNamespace.Status.NOT_FOUND
        row.delete_calls += 1
        row.save(update_fields=["status", "error", "delete_calls"])
        done += 1
        if done % 10 == 0 or done == total:
            lease_renew(job)
            job_progress(job, done=done, total=total, message=f"deleted {done} of {total} namespaces")


def _verify(
    job: Job, erasure: ErasureRequest, rows: list[ErasureNamespace], approved: set[str] | None
) -> tuple[bool, dict[str, Any]]:
    """Verify every own namespace gone; namespaces of the creator that appear meanwhile are
    added as orphans, deleted, and verification runs again."""
    index = get_index()
    evidence: dict[str, Any] = {"passes": []}
    for _ in range(MAX_VERIFY_PASSES):
        job_progress(job, done=job.progress_done, message="verifying")
        failed = {r.name for r in rows if r.status == ErasureNamespace.Status.FAILED}
        result = verify_creator_gone(
            index,
            erasure.creator_id,
            [r.name for r in rows if r.name not in failed],
            known_failed=failed,
            on_round=lambda: lease_renew(job),
        )
        evidence["passes"].append(result.summary())
        by_name = {r.name: r for r in rows}
        changed = []
        for name, seen in result.verified.items():
            row = by_name[name]
            row.verified, row.verified_at, row.evidence = True, timezone.now(), seen
            changed.append(row)
        for name, count in result.remaining.items():
            row = by_name[name]
            row.verified, row.evidence = False, {"still_counted": count, "ids_listed": count is None}
            changed.append(row)
        ErasureNamespace.objects.bulk_update(changed, ["verified", "verified_at", "evidence"], batch_size=500)
        if not result.unexpected:
            break
        rows = _namespaces_sync(erasure, result.unexpected, approved)
        _delete_pending(job, erasure, rows)
    return result.ok, evidence


def erasure_execute(job: Job) -> dict[str, Any]:
    """The job: cancel the creator's migrations, read the scope (own namespaces, lineage
    sources, backups), delete all of it, verify, update what the pages read, and close the
    request (erased) or leave it open (failed). Everything it audits carries the request's
    correlation id, as the filing and the approval do."""
    erasure = ErasureRequest.objects.get(job=job)
    if erasure.status not in (ErasureRequest.Status.APPROVED, ErasureRequest.Status.RUNNING):
        return {"skipped": f"request #{erasure.pk} is {erasure.status}"}
    lease_acquire(job)
    actor = _job_actor(job)
    cid = erasure.creator_id
    erasure.status = ErasureRequest.Status.RUNNING
    erasure.started_at = erasure.started_at or timezone.now()
    erasure.executor = runner_label()
    erasure.save(update_fields=["status", "started_at", "executor"])
    audit = {
        "actor": actor,
        "target_type": "creator",
        "target_id": cid,
        "creator_id": cid,
        "correlation_id": erasure.correlation_id,
    }

    migrations_cancelled = backups.migrations_cancel(erasure=erasure, actor=actor)
    scope = erasure_scope_read(creator_id=cid)
    approved = approved_names(erasure)
    rows = _namespaces_sync(erasure, {e.name: e.count for e in scope.namespaces if e.count}, approved)
    lineage_rows = lineage_rows_sync(erasure, scope.lineage, approved=approved)
    audit_record(
        action="creator.erase.resume" if job.params.get("continues_job") else "creator.erase.start",
        outcome="intent",
        details={
            "request": erasure.pk,
            "job": job.pk,
            "attempt": erasure.attempts,
            "continues_job": job.params.get("continues_job"),
            "namespaces": len(rows),
            "vectors_before": sum(r.count_before for r in rows),
            "orphans": sum(1 for r in rows if r.kind == ErasureNamespace.Kind.ORPHAN),
            "lineage_sources": len(lineage_rows),
            "lineage_copied_ids": sum(r.ids_targeted or 0 for r in lineage_rows),
            "already_deleted": sum(1 for r in rows if r.status != ErasureNamespace.Status.PENDING),
            "found_at_execution": sorted(r.name for r in rows + lineage_rows if r.found_at_execution)[:50],
            "migrations_cancelled": migrations_cancelled,
            "scope_digest": scope.digest,
            "approved_scope_digest": erasure.approved_scope_digest,
        },
        **audit,
    )

    handled_backups = backups.backups_handle(erasure=erasure, actor=actor)
    lease_renew(job)
    _delete_pending(job, erasure, rows)
    lineage_erase(
        erasure,
        lineage_rows,
        audit={"actor": actor, "creator_id": cid, "correlation_id": erasure.correlation_id},
        on_each=lambda: lease_renew(job),
    )
    ErasureRequest.objects.filter(pk=erasure.pk).update(completed_at=timezone.now())
    own = list(erasure.namespaces.exclude(kind__in=ErasureNamespace.LINEAGE_KINDS))
    namespaces_ok, evidence = _verify(job, erasure, own, approved)
    job_progress(job, done=job.progress_done, message="verifying lineage sources")
    lineage_ok = lineage_verify(erasure, lineage_rows, on_round=lambda: lease_renew(job))
    rows = list(erasure.namespaces.all())
    backups_left = backups.backups_remaining(creator_id=cid)
    failed = [r.name for r in rows if r.status == ErasureNamespace.Status.FAILED or not r.verified]
    ok = namespaces_ok and lineage_ok and not failed and not backups_left
    evidence["backups_remaining"] = backups_left
    evidence["backups_handled"] = len(handled_backups)
    _snapshot_update(rows)
    now = timezone.now()

    with transaction.atomic():
        lease_renew(job)  # fence: never close a request another runner has taken over
        erasure.refresh_from_db()
        erasure.verification = evidence
        if ok:
            Twin.objects.filter(creator__creator_id=cid).update(
                status=Twin.Status.DELETED, vector_count=0, count_observed_at=now
            )
            Creator.objects.filter(creator_id=cid).update(status=Creator.Status.ERASED)
            erasure.status = ErasureRequest.Status.COMPLETED
            erasure.verified_at = now
            erasure.last_error = ""
        else:
            erasure.status = ErasureRequest.Status.FAILED
            erasure.last_error = _failure_text(failed, backups_left)
        entry = audit_record(
            action="creator.erase.finish",
            outcome="success" if ok else "failure",
            details={
                "request": erasure.pk,
                "job": job.pk,
                "verified": ok,
                "namespaces": [
                    {
                        "name": r.name,
                        "kind": r.kind,
                        "count_before": r.count_before,
                        "status": r.status,
                        "verified": r.verified,
                        **(
                            {"mode": r.mode, "copied_ids": r.ids_targeted, "kept": r.kept_after}
                            if r.is_lineage
                            else {}
                        ),
                        **({"found_at_execution": True} if r.found_at_execution else {}),
                    }
                    for r in rows
                ],
                "vectors_before": sum(r.count_before for r in rows if not r.is_lineage),
                "lineage_ids_erased": sum(r.ids_present_before or 0 for r in rows if r.is_lineage),
                "backups": [{"backup": b.backup_ref, "action": b.action} for b in erasure.backups.all()],
                "backups_remaining": backups_left,
                "verification_passes": len(evidence["passes"]),
                "error": erasure.last_error,
            },
            **audit,
        )
        erasure.audit_seq, erasure.audit_head_hash = entry.seq, entry.entry_hash
        erasure.save(
            update_fields=[
                "verification",
                "status",
                "verified_at",
                "last_error",
                "audit_seq",
                "audit_head_hash",
            ]
        )
    lease_release(job)
    if not ok:
        raise ErasureIncomplete(erasure.last_error)
    return {
        "request": erasure.pk,
        "namespaces": len(rows),
        "deleted": sum(1 for r in rows if r.status == ErasureNamespace.Status.DELETED),
        "not_found": sum(1 for r in rows if r.status == ErasureNamespace.Status.NOT_FOUND),
        "lineage_sources": sum(1 for r in rows if r.is_lineage),
        "verified": True,
    }


def _snapshot_update(rows: list[ErasureNamespace]) -> None:
    """Before the job reports done, the pages' snapshot learns what it verified: own namespaces
    gone, lineage sources holding only what was kept. What was not verified is read again."""
    observed = {r.name: (r.kept_after or 0) if r.is_lineage else 0 for r in rows if r.verified}
    index_snapshot_apply(observed=observed)
    unverified = [r.name for r in rows if not r.verified]
    if unverified:
        index_namespaces_reread(names=unverified)


def _failure_text(failed: list[str], backups_left: list[str]) -> str:
    parts = []
    if failed:
        shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        parts.append(f"{len(failed)} namespace(s) not verified gone: {shown}")
    if backups_left:
        parts.append(f"{len(backups_left)} backup(s) not deleted: {', '.join(backups_left[:5])}")
    return "; ".join(parts) or "verification did not complete"


# --- checking ---------------------------------------------------------------------------------


def creator_remnants(*, creator_id: str) -> dict[str, Any]:
    """What of a creator the index still holds or a backup could restore (verify_deletion).
    One look, no polling: counts lag deletes, so right after an erasure this may still list
    namespaces that are on their way out."""
    _validated(creator_id)
    index = get_index()
    listed = owned_namespaces(index, creator_id)
    known = {codec.creator_namespace(creator_id)} | {
        codec.twin_namespace(creator_id, t)
        for t in Twin.objects.filter(creator__creator_id=creator_id).values_list("twin_id", flat=True)
    }
    remaining = []
    for name in sorted(known | listed.keys()):
        count = listed.get(name, 0)
        # Not counted (yet): an id listing still shows data written moments ago.
        if count or has_ids(index, name):
            remaining.append({"namespace": name, "vector_count": count})
    # Copies lineage knows of: the creator's ids still listed in a legacy source or __default__.
    lineage_left = []
    for source in lineage_sources(creator_id=creator_id):
        present = lineage_copies_present(index, creator_id=creator_id, source_namespace=source.namespace)
        if present:
            lineage_left.append({"namespace": source.namespace, "copied_ids_present": present})
    backups_left = backups.backups_remaining(creator_id=creator_id)
    return {
        "creator_id": creator_id,
        "clean": not remaining and not backups_left and not lineage_left,
        "namespaces": remaining,
        "lineage_sources": lineage_left,
        "backups_remaining": backups_left,
        "checked_at": timezone.now().isoformat(),
    }
