"""The creator-erasure job: from an approved request to a verified erasure, or a failure that says
what is left.

Why it is shaped as phases: a worker can die anywhere in it, and the job is run again (retry,
take-over after a lapsed lease). So every phase reads its state from the request's rows rather
than from memory: namespaces are checkpointed one by one as their deletes return, a re-run only
deletes what is not yet verified gone, and the close is fenced by the lease so a stalled runner
never closes a request another one has taken over (leases.py). The audit entries before (intent,
counts) and after (outcome, verification) carry the request's correlation id, as the filing and
the approval do (requests.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from twinadmin.api.events import erasure_event
from twinadmin.audit.services import audit_record
from twinadmin.audit.tasks import audit_checkpoint_soon
from twinadmin.erasure import backups, notify
from twinadmin.erasure.lineage import lineage_erase, lineage_rows_sync, lineage_verify
from twinadmin.erasure.models import ErasureBackup, ErasureNamespace, ErasureRequest
from twinadmin.erasure.namespaces import concurrently, verify_creator_gone
from twinadmin.erasure.scope import approved_names, erasure_scope_read
from twinadmin.erasure.scope import kind_of as scope_kind_of
from twinadmin.jobs.leases import lease_renew, runner_label
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_progress
from twinadmin.registry import codec
from twinadmin.registry.models import Twin
from twinadmin.registry.services import creator_mark_erased, index_namespaces_reread, index_snapshot_apply
from twinadmin.vectors import get_index
from twinadmin.vectors.errors import VectorError

from .common import MAX_VERIFY_PASSES, ErasureIncomplete, _job_actor


@dataclass
class _Outcome:
    """What verification established, as the close records it."""

    ok: bool
    evidence: dict[str, Any]
    rows: list[ErasureNamespace]  # every row of the request, own namespaces and lineage sources
    failed: list[str]  # names not verified gone
    backups_left: list[str]


def erasure_execute(job: Job) -> dict[str, Any]:
    """The job: cancel the creator's migrations, read the scope (own namespaces, lineage
    sources, backups), delete all of it, verify, update what the pages read, and close the
    request (erased) or leave it open (failed). Everything it audits carries the request's
    correlation id, as the filing and the approval do."""
    erasure = ErasureRequest.objects.get(job=job)
    if erasure.status not in (ErasureRequest.Status.APPROVED, ErasureRequest.Status.RUNNING):
        return {"skipped": f"request #{erasure.pk} is {erasure.status}"}
    actor = _job_actor(job)
    audit = _erasure_begin(erasure, actor)
    approved, rows, lineage_rows = _erasure_record_scope(job, erasure, actor, audit)
    handled_backups = _erasure_delete(job, erasure, actor, rows, lineage_rows)
    outcome = _erasure_verify(job, erasure, lineage_rows, approved, handled_backups)
    _snapshot_update(outcome.rows)
    _erasure_close(job, erasure, outcome, audit)
    audit_checkpoint_soon()  # sign the log with this job's entries in it, from the worker
    if not outcome.ok:
        raise ErasureIncomplete(erasure.last_error)
    rows = outcome.rows
    return {
        "request": erasure.pk,
        "namespaces": len(rows),
        "deleted": sum(1 for r in rows if r.status == ErasureNamespace.Status.DELETED),
        "not_found": sum(1 for r in rows if r.status == ErasureNamespace.Status.NOT_FOUND),
        "lineage_sources": sum(1 for r in rows if r.is_lineage),
        "verified": True,
    }


def _erasure_begin(erasure: ErasureRequest, actor: Any) -> dict[str, Any]:
    """Mark the request running on this runner; returns what every audit entry of the job names."""
    cid = erasure.creator_id
    erasure.status = ErasureRequest.Status.RUNNING
    erasure.started_at = erasure.started_at or timezone.now()
    erasure.executor = runner_label()
    erasure.save(update_fields=["status", "started_at", "executor"])
    return {
        "actor": actor,
        "target_type": "creator",
        "target_id": cid,
        "creator_id": cid,
        "correlation_id": erasure.correlation_id,
    }


def _erasure_record_scope(
    job: Job, erasure: ErasureRequest, actor: Any, audit: dict[str, Any]
) -> tuple[set[str] | None, list[ErasureNamespace], list[ErasureNamespace]]:
    """Stop the creator's migrations, read the scope again and checkpoint it as rows (new ones
    marked when the approver did not see them), and audit the intent. Returns the approved names,
    the own namespace rows and the lineage source rows."""
    migrations_cancelled = backups.migrations_cancel(erasure=erasure, actor=actor)
    scope = erasure_scope_read(creator_id=erasure.creator_id)
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
    return approved, rows, lineage_rows


def _erasure_delete(
    job: Job,
    erasure: ErasureRequest,
    actor: Any,
    rows: list[ErasureNamespace],
    lineage_rows: list[ErasureNamespace],
) -> list[ErasureBackup]:
    """Backups first (so nothing can be restored from them), then the own namespaces, then the
    creator's ids in the lineage sources. Returns the backups handled."""
    handled_backups = backups.backups_handle(erasure=erasure, actor=actor)
    lease_renew(job)
    _delete_pending(job, erasure, rows)
    lineage_erase(
        erasure,
        lineage_rows,
        audit={"actor": actor, "creator_id": erasure.creator_id, "correlation_id": erasure.correlation_id},
        on_each=lambda: lease_renew(job),
    )
    ErasureRequest.objects.filter(pk=erasure.pk).update(completed_at=timezone.now())
    return handled_backups


def _erasure_verify(
    job: Job,
    erasure: ErasureRequest,
    lineage_rows: list[ErasureNamespace],
    approved: set[str] | None,
    handled_backups: list[ErasureBackup],
) -> _Outcome:
    """Verify own namespaces (erasing any that turned up meanwhile), then lineage sources, then
    that no backup is left."""
    own = list(erasure.namespaces.exclude(kind__in=ErasureNamespace.LINEAGE_KINDS))
    namespaces_ok, evidence = _verify(job, erasure, own, approved)
    job_progress(job, done=job.progress_done, message="verifying lineage sources")
    lineage_ok = lineage_verify(erasure, lineage_rows, on_round=lambda: lease_renew(job))
    rows = list(erasure.namespaces.all())
    backups_left = backups.backups_remaining(creator_id=erasure.creator_id)
    failed = [r.name for r in rows if r.status == ErasureNamespace.Status.FAILED or not r.verified]
    ok = namespaces_ok and lineage_ok and not failed and not backups_left
    evidence["backups_remaining"] = backups_left
    evidence["backups_handled"] = len(handled_backups)
    return _Outcome(ok=ok, evidence=evidence, rows=rows, failed=failed, backups_left=backups_left)


def _erasure_close(job: Job, erasure: ErasureRequest, outcome: _Outcome, audit: dict[str, Any]) -> None:
    """Close the request (the creator and twins erased) or leave it failed with what is left,
    audited in the same transaction, behind the lease's fence. The request keeps the position
    and hash of its finish entry in the audit chain (the receipt)."""
    cid = erasure.creator_id
    now = timezone.now()
    with transaction.atomic():
        lease_renew(job)  # fence: never close a request another runner has taken over
        erasure.refresh_from_db()
        erasure.verification = outcome.evidence
        if outcome.ok:
            creator_mark_erased(creator_id=cid, observed_at=now)
            erasure.status = ErasureRequest.Status.COMPLETED
            erasure.verified_at = now
            erasure.last_error = ""
        else:
            erasure.status = ErasureRequest.Status.FAILED
            erasure.last_error = _failure_text(outcome.failed, outcome.backups_left)
        entry = audit_record(
            action="creator.erase.finish",
            outcome="success" if outcome.ok else "failure",
            details=_finish_details(job, erasure, outcome),
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
        erasure_event(erasure)  # webhooks: erasure.completed or erasure.failed, sent after the commit
        if not outcome.ok:
            notify.approvers_notify_failed(erasure)


def _finish_details(job: Job, erasure: ErasureRequest, outcome: _Outcome) -> dict[str, Any]:
    """The finish entry's details: every row as it ended, the backups, and the error if any."""
    rows = outcome.rows
    return {
        "request": erasure.pk,
        "job": job.pk,
        "verified": outcome.ok,
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
        "backups_remaining": outcome.backups_left,
        "verification_passes": len(outcome.evidence["passes"]),
        "error": erasure.last_error,
    }


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
    returns. A worker killed here leaves at most the deletes in flight unrecorded (the pool's
    window, and the one whose outcome was being saved); the next run finds those namespaces gone
    (`not_found`)."""
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
    for row, outcome in zip(pending, concurrently(index, delete, pending), strict=True):
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
