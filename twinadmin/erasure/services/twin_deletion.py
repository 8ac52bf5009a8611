"""Deleting one twin: a single namespace, no approval beyond the typed twin id, one job.

Apart from creator erasure because it is a different promise: it never touches lineage sources,
backups or the creator, and it can run while the creator's erasure is pending. The job checkpoints
on its TwinDeletion row (started, delete outcome) so that a take-over after a killed worker resumes
rather than starts again, and the close is fenced by the lease (leases.py).
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from twinadmin.api.events import twin_deletion_event
from twinadmin.audit.services import audit_record
from twinadmin.audit.tasks import audit_checkpoint_soon
from twinadmin.erasure.models import TwinDeletion
from twinadmin.erasure.namespaces import verify_namespace_gone
from twinadmin.jobs.leases import job_enqueue, lease_renew
from twinadmin.jobs.models import Job
from twinadmin.registry import codec
from twinadmin.registry.models import Twin
from twinadmin.registry.services import (
    RegistryError,
    index_snapshot_apply,
    twin_mark_deleted,
    twin_mark_deleting,
)
from twinadmin.vectors import get_index
from twinadmin.vectors.base import VectorIndex

from .common import (
    KIND_DELETE_TWIN,
    ErasureError,
    ErasureIncomplete,
    _actor_parts,
    _job_actor,
    _new_job,
    _required,
    _validated,
)


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
    _refuse_if_already_deleted(twin)
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


class TwinAlreadyDeleted(ErasureError):
    """The twin was deleted and verified gone already; `deletion` is the deletion that did it."""

    def __init__(self, message: str, deletion: TwinDeletion | None) -> None:
        super().__init__(message)
        self.deletion = deletion


def _refuse_if_already_deleted(twin: Twin) -> None:
    """A twin deleted (and verified gone) is not deleted again: a form sent twice, say through
    the browser's Back button, would only file a `not_found` deletion and more audit entries.
    Unless its namespace holds vectors again (Drift lists it): then deleting it again is how
    they go."""
    if twin.status != Twin.Status.DELETED:
        return
    creator_id = twin.creator.creator_id
    if get_index().has_ids(codec.twin_namespace(creator_id, twin.twin_id)):
        return
    done = (
        TwinDeletion.objects.filter(
            creator_id=creator_id, twin_id=twin.twin_id, status=TwinDeletion.Status.VERIFIED
        )
        .order_by("-pk")
        .first()
    )
    when = (
        f" by deletion #{done.pk}, verified {done.finished_at:%Y-%m-%d %H:%M} UTC"
        if done and done.finished_at
        else ""
    )
    raise TwinAlreadyDeleted(
        f"Twin {twin.twin_id!r} is already deleted{when}; its namespace holds nothing. Nothing was changed.",
        done,
    )


def twin_deletion_execute(job: Job) -> dict[str, Any]:
    """The job: delete the namespace, verify it gone, mark the twin deleted. A namespace already
    gone is a verified success."""
    deletion = TwinDeletion.objects.get(job=job)
    actor = _job_actor(job)
    index = get_index()
    audit = {
        "actor": actor,
        "target_type": "twin",
        "target_id": deletion.twin_id,
        "creator_id": deletion.creator_id,
        "correlation_id": job.correlation_id,
    }
    _deletion_begin(job, deletion, index, audit)
    evidence = _deletion_delete(job, deletion, index)
    _deletion_close(job, deletion, evidence, audit)
    audit_checkpoint_soon()  # sign the log with this job's entries in it, from the worker
    if not evidence["ok"]:
        raise ErasureIncomplete(deletion.error)
    return {
        "namespace": deletion.namespace,
        "vectors_before": deletion.count_before,
        "delete": deletion.delete_outcome,
        "verified": True,
    }


def _deletion_begin(job: Job, deletion: TwinDeletion, index: VectorIndex, audit: dict[str, Any]) -> None:
    """First run: count what is there, mark the twin deleting, audit the intent. A resumed run
    (the row says it started) only records that it continues."""
    ns = deletion.namespace
    if deletion.started_at is None:
        deletion.count_before = index.namespace_count(ns)
        deletion.started_at = timezone.now()
        deletion.status = TwinDeletion.Status.RUNNING
        deletion.save(update_fields=["count_before", "started_at", "status"])
        # Already deleted (the shell's re-run): the twin stays deleted, this run only verifies.
        with contextlib.suppress(RegistryError):
            twin_mark_deleting(creator_id=deletion.creator_id, twin_id=deletion.twin_id)
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


def _deletion_delete(job: Job, deletion: TwinDeletion, index: VectorIndex) -> dict[str, Any]:
    """Delete the namespace and poll until it reads as gone; returns the verification evidence."""
    existed = index.delete_namespace(deletion.namespace)
    if not deletion.delete_outcome:  # the first run's outcome; a resumed run finds it gone
        deletion.delete_outcome = "deleted" if existed else "not_found"
        deletion.save(update_fields=["delete_outcome"])
    lease_renew(job)
    return verify_namespace_gone(index, deletion.namespace, on_round=lambda: lease_renew(job))


def _deletion_close(
    job: Job, deletion: TwinDeletion, evidence: dict[str, Any], audit: dict[str, Any]
) -> None:
    """Record the outcome on the row, the twin and the snapshot, and audit it, in one transaction
    behind the lease's fence."""
    ns = deletion.namespace
    last_count = evidence["rounds"][-1]["count"]
    with transaction.atomic():
        lease_renew(job)  # fence: never close a deletion another runner has taken over
        deletion.verification = evidence
        deletion.count_after = last_count
        deletion.finished_at = timezone.now()
        if evidence["ok"]:
            deletion.status = TwinDeletion.Status.VERIFIED
            twin_mark_deleted(
                creator_id=deletion.creator_id, twin_id=deletion.twin_id, observed_at=deletion.finished_at
            )
        else:
            deletion.status = TwinDeletion.Status.FAILED
            deletion.error = (
                f"{ns} still reports {last_count} vectors after {len(evidence['rounds'])} checks."
            )
        deletion.save(update_fields=["verification", "count_after", "finished_at", "status", "error"])
        twin_deletion_event(deletion)  # webhooks: twin.deleted once verified, sent after the commit
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
