"""Operator actions on a run: cancel (with a reason), resume from the checkpoints, roll back."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from migrations_app.models import MigrationItem, NamespaceBackup, NamespaceMigration
from migrations_app.pipeline import (
    RollbackRefused,
    check_creator_restorable,
)
from migrations_app.services.common import MigrationStateError, Phase, Run, Status
from migrations_app.services.runs import _audit_run, migration_enqueue, run_job_create
from twinadmin.audit.services import audit_record
from twinadmin.jobs.leases import job_lease_live, job_take_over
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_abandon
from twinadmin.registry.models import Creator

# -- operator actions ---------------------------------------------------------------------------


def migration_cancel(
    *,
    run: NamespaceMigration,
    actor: Any,
    reason: str = "",
    correlation_id: uuid.UUID | str | None = None,
) -> NamespaceMigration:
    """Stop a run. Not started (or failed): cancelled at once, its namespaces released. Running:
    flagged, and the runner stops at its next checkpoint (after the batch in flight)."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        # Nobody executing it right now (queued, between retries, or its worker died): its job
        # is closed with it, so no delivery can start it again.
        immediate = run.status in (Status.QUEUED, Status.FAILED) or (
            run.status in (Status.RUNNING, Status.ROLLING_BACK) and not _job_live(run)
        )
        if immediate:
            Run.objects.filter(pk=run.pk).update(
                status=Status.CANCELLED,
                cancel_requested=False,
                finished_at=timezone.now(),
                message="cancelled",
            )
            run.items.update(active=False)
            if run.job_id:
                job_abandon(job_id=run.job_id, message="its migration run was cancelled")
        elif run.status in (Status.RUNNING, Status.ROLLING_BACK):
            Run.objects.filter(pk=run.pk).update(cancel_requested=True, message="cancel requested")
        else:
            raise MigrationStateError(f"Run {run.pk} is {run.status}; there is nothing to cancel.")
    _audit_run(
        run,
        "migration.run.cancel",
        actor=actor,
        outcome="success" if immediate else "intent",
        details={"immediate": immediate, "was": run.status, "reason": (reason or "").strip()[:500]},
        correlation_id=correlation_id,
    )
    run.refresh_from_db()
    return run


def migration_cancel_for_creator(
    *, creator_id: str, actor: Any, reason: str = "", correlation_id: uuid.UUID | str | None = None
) -> list[int]:
    """Cancel every run that could still write this creator's namespaces (queued, running,
    failed-but-resumable, rolling back). A running copy stops at its next checkpoint. Returns the
    run ids. `correlation_id`: the erasure's, so its trail shows the cancellations."""
    active = Run.objects.filter(creator_id=creator_id).filter(
        Q(status__in=(Status.QUEUED, Status.RUNNING, Status.FAILED, Status.ROLLING_BACK))
    )
    ids = []
    for run in active.order_by("pk"):
        try:
            migration_cancel(run=run, actor=actor, reason=reason, correlation_id=correlation_id)
        except MigrationStateError:
            continue  # finished meanwhile
        ids.append(run.pk)
    audit_record(
        actor=actor,
        action="migration.cancel_for_creator",
        target_type="creator",
        target_id=creator_id,
        creator_id=creator_id,
        outcome="success",
        details={"runs": ids},
        correlation_id=correlation_id,
    )
    return ids


def migrations_still_running(*, creator_id: str) -> list[int]:
    """Runs of the creator whose live runner has been asked to stop and has not yet reached its
    next checkpoint (erasure waits for them: a copy in flight may still record lineage)."""
    running = Run.objects.filter(creator_id=creator_id, status__in=(Status.RUNNING, Status.ROLLING_BACK))
    return [run.pk for run in running if _job_live(run)]


def _job_live(run: NamespaceMigration) -> bool:
    """A worker holds the run's job and renews its lease: it is executing the run right now."""
    return run.job_id is not None and job_lease_live(job_id=run.job_id)


def _hold_namespaces(run: NamespaceMigration, items: QuerySet) -> None:
    try:
        with transaction.atomic():
            items.update(active=True)
    except IntegrityError:
        raise MigrationStateError(
            f"Run {run.pk} cannot continue: another active run now holds one of its namespaces."
        ) from None


def _resume_check(run: NamespaceMigration) -> bool:
    """Refuse (MigrationStateError) a resume that must not happen; True when the run is
    abandoned: running, with nobody renewing its job's lease (its worker died)."""
    job, live = run.job, _job_live(run)
    abandoned = run.status in Run.ACTIVE and job is not None and job.status == Job.Status.RUNNING and not live
    if run.status not in (Status.FAILED, Status.CANCELLED) and not abandoned:
        if run.status in Run.ACTIVE and live:
            raise MigrationStateError(
                f"Run {run.pk} is {run.status} and its worker is alive (job {run.job_id} holds "
                "its lease); cancel it first or wait."
            )
        if run.status in Run.ACTIVE:
            raise MigrationStateError(f"Run {run.pk} is {run.status}; a worker will pick it up.")
        raise MigrationStateError(f"Run {run.pk} is {run.status}; there is nothing to resume.")
    creator = Creator.objects.filter(creator_id=run.creator_id).first()
    if run.phase == Phase.ROLLBACK:
        try:
            check_creator_restorable(run.creator_id, creator)
        except RollbackRefused as exc:
            raise MigrationStateError(str(exc)) from None
    elif creator is None or creator.status != Creator.Status.ACTIVE:
        state = creator.status if creator else "not registered"
        raise MigrationStateError(f"Creator {run.creator_id} is {state}; the run is not resumed.")
    return abandoned


def migration_resume(*, run: NamespaceMigration, actor: Any, enqueue: bool = True) -> NamespaceMigration:
    """Continue a failed, cancelled or abandoned (worker died) run from its checkpoints, as a
    new job: an abandoned run's job is taken over (the jobs sweep would do the same by itself
    within a minute), the others get a fresh one. `attempt` counts the jobs that carried it."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        job = run.job
        abandoned = _resume_check(run)
        rolling_back = run.phase == Phase.ROLLBACK
        pending = run.items.exclude(step=MigrationItem.Step.ROLLED_BACK)
        _hold_namespaces(run, pending)
        fields: dict[str, Any] = {
            "status": Status.ROLLING_BACK if rolling_back else Status.QUEUED,
            "cancel_requested": False,
            "error": "",
            "finished_at": None,
            "message": "resumed",
        }
        if run.phase == Phase.CUTOVER and run.delete_source:
            # Sources are about to be deleted: verify again what has not been cut over yet.
            fields["phase"] = Phase.VERIFY
            run.items.exclude(step=MigrationItem.Step.CUT_OVER).update(verified=None)
        if abandoned and job is not None:
            successor = job_take_over(job_id=job.pk)  # its on_continue points the run at it
            if successor is None:
                raise MigrationStateError(f"Run {run.pk} was taken over meanwhile; a worker continues it.")
        else:
            fields["job"] = run_job_create(run, actor=actor)
            fields["attempt"] = run.attempt + 1
        Run.objects.filter(pk=run.pk).update(**fields)
    run.refresh_from_db()
    _audit_run(
        run,
        "migration.run.resume",
        actor=actor,
        outcome="info",
        details={"attempt": run.attempt, "phase": run.phase, "job": run.job_id},
    )
    if enqueue:
        migration_enqueue(run=run)
    return run


def migration_rollback(*, run: NamespaceMigration, actor: Any, enqueue: bool = True) -> NamespaceMigration:
    """Queue the undo of a run: restore deleted sources from their (verified) backups, delete the
    targets, return the registry to what it was. Refused for an erased creator, or when a backup
    that must be restored is not available; the executor re-checks everything before writing."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if not run.can_rollback:
            raise MigrationStateError(
                f"Run {run.pk} is {run.status}; only finished, failed or cancelled runs roll back."
            )
        creator = Creator.objects.filter(creator_id=run.creator_id).first()
        try:
            check_creator_restorable(run.creator_id, creator)
        except RollbackRefused as exc:
            raise MigrationStateError(str(exc)) from None
        for item in run.items.filter(source_deleted=True, restored=False).select_related("backup"):
            backup = getattr(item, "backup", None)
            if backup is None or backup.status != NamespaceBackup.Status.AVAILABLE or not backup.complete:
                state = backup.status if backup else "missing"
                raise MigrationStateError(
                    f"The backup of {item.source_namespace} is {state}: the deleted source cannot come back."
                )
        _hold_namespaces(run, run.items.exclude(step=MigrationItem.Step.ROLLED_BACK))
        Run.objects.filter(pk=run.pk).update(
            status=Status.ROLLING_BACK,
            phase=Phase.ROLLBACK,
            attempt=run.attempt + 1,
            job=run_job_create(run, actor=actor),
            cancel_requested=False,
            error="",
            finished_at=None,
            message="rollback queued",
        )
    run.refresh_from_db()
    _audit_run(run, "migration.rollback.start", actor=actor, outcome="intent")
    if enqueue:
        migration_enqueue(run=run)
    return run
