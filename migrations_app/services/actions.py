"""Operator actions on a run: cancel (with a reason), resume from the checkpoints, roll back."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from migrations_app import conf
from migrations_app.models import MigrationItem, NamespaceBackup, NamespaceMigration
from migrations_app.pipeline import (
    RollbackRefused,
    check_creator_restorable,
)
from migrations_app.services.common import MigrationStateError, Phase, Run, Status, log
from migrations_app.services.runs import (
    _audit_run,
    _sync_job,
    migration_enqueue,
    runner_is_gone,
)
from twinadmin.audit.services import audit_record
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
        # Nobody executing a phase right now (between two phases, or its runner died): the next
        # claim is a compare-and-swap on this status, so cancelling at once cannot race it.
        immediate = run.status in (Status.QUEUED, Status.FAILED) or (
            run.status in (Status.RUNNING, Status.ROLLING_BACK) and (not run.runner or runner_is_gone(run))
        )
        if immediate:
            Run.objects.filter(pk=run.pk).update(
                status=Status.CANCELLED,
                runner="",
                cancel_requested=False,
                finished_at=timezone.now(),
                message="cancelled",
            )
            run.items.update(active=False)
        elif run.status in (Status.RUNNING, Status.ROLLING_BACK):
            Run.objects.filter(pk=run.pk).update(cancel_requested=True, message="cancel requested")
        else:
            raise MigrationStateError(f"Run {run.pk} is {run.status}; there is nothing to cancel.")
    _sync_job(run.pk)
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
    running = Run.objects.filter(
        creator_id=creator_id, status__in=(Status.RUNNING, Status.ROLLING_BACK)
    ).exclude(runner="")
    return [run.pk for run in running if not runner_is_gone(run)]


def _hold_namespaces(run: NamespaceMigration, items: QuerySet) -> None:
    try:
        with transaction.atomic():
            items.update(active=True)
    except IntegrityError:
        raise MigrationStateError(
            f"Run {run.pk} cannot continue: another active run now holds one of its namespaces."
        ) from None


def migration_resume(*, run: NamespaceMigration, actor: Any, enqueue: bool = True) -> NamespaceMigration:
    """Continue a failed, cancelled or abandoned (worker died) run from its checkpoints. The
    attempt number goes up, which fences any runner of the previous attempt."""
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        abandoned = run.status in Run.ACTIVE and runner_is_gone(run)
        if run.status not in (Status.FAILED, Status.CANCELLED) and not abandoned:
            if run.status in Run.ACTIVE and run.runner:
                raise MigrationStateError(
                    f"Run {run.pk} is {run.status} and its worker is alive (last heartbeat "
                    f"{run.heartbeat_at:%H:%M:%S}); cancel it first or wait."
                )
            if run.status in Run.ACTIVE:
                raise MigrationStateError(f"Run {run.pk} is {run.status}; a worker will pick it up.")
            raise MigrationStateError(f"Run {run.pk} is {run.status}; there is nothing to resume.")
        rolling_back = run.phase == Phase.ROLLBACK
        creator = Creator.objects.filter(creator_id=run.creator_id).first()
        if rolling_back:
            try:
                check_creator_restorable(run.creator_id, creator)
            except RollbackRefused as exc:
                raise MigrationStateError(str(exc)) from None
        elif creator is None or creator.status != Creator.Status.ACTIVE:
            state = creator.status if creator else "not registered"
            raise MigrationStateError(f"Creator {run.creator_id} is {state}; the run is not resumed.")
        pending = run.items.exclude(step=MigrationItem.Step.ROLLED_BACK)
        _hold_namespaces(run, pending)
        fields: dict[str, Any] = {
            "status": Status.ROLLING_BACK if rolling_back else Status.QUEUED,
            "attempt": run.attempt + 1,
            "runner": "",
            "cancel_requested": False,
            "error": "",
            "finished_at": None,
            "message": "resumed",
        }
        if run.phase == Phase.CUTOVER and run.delete_source:
            # Sources are about to be deleted: verify again what has not been cut over yet.
            fields["phase"] = Phase.VERIFY
            run.items.exclude(step=MigrationItem.Step.CUT_OVER).update(verified=None)
        Run.objects.filter(pk=run.pk).update(**fields)
    run.refresh_from_db()
    _sync_job(run.pk)
    _audit_run(
        run,
        "migration.run.resume",
        actor=actor,
        outcome="info",
        details={"attempt": run.attempt, "phase": run.phase},
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
            runner="",
            cancel_requested=False,
            error="",
            finished_at=None,
            message="rollback queued",
        )
    run.refresh_from_db()
    _sync_job(run.pk)
    _audit_run(run, "migration.rollback.start", actor=actor, outcome="intent")
    if enqueue:
        migration_enqueue(run=run)
    return run


SWEEPER_ACTOR = "celery:jobs.sweep"


def migration_runs_sweep() -> list[int]:
    """Runs whose worker died mid-phase (a runner set, its heartbeat older than
    MIGRATION_STALE_SECONDS) continue by themselves: resumed from their checkpoints and queued
    again, or, when a cancel was waiting for that worker, cancelled. `jobs.sweep` calls this;
    nobody has to press Resume. Returns the runs handed on."""
    cutoff = timezone.now() - timedelta(seconds=conf.stale_after_seconds())
    stale = Run.objects.filter(
        status__in=(Status.RUNNING, Status.ROLLING_BACK), heartbeat_at__lt=cutoff
    ).exclude(runner="")
    handed: list[int] = []
    for run in stale:
        try:
            if run.cancel_requested:
                migration_cancel(
                    run=run, actor=SWEEPER_ACTOR, reason="its worker died while a cancel was pending"
                )
            else:
                migration_resume(run=run, actor=SWEEPER_ACTOR)
        except MigrationStateError as exc:  # changed meanwhile, or a creator being erased
            log.info("run %s not continued by the sweep: %s", run.pk, exc)
            continue
        handed.append(run.pk)
    if handed:
        log.warning("jobs.sweep: migration runs %s lost their worker; continuing them", handed)
    return handed
