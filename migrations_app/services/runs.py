"""Plans and runs: saving a plan as a run, and claiming and executing it phase by phase.

Runs execute phase by phase (`migration_phase_execute`): the Celery chain calls it once per
phase, `migration_execute` calls it in this process for the commands. Either way a phase first
claims the run with a conditional UPDATE (the attempt must match, no live runner may hold it),
so duplicate deliveries do the work once and a stale delivery after a resume does nothing.
"""

from __future__ import annotations

import os
import socket
import traceback
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from migrations_app import conf
from migrations_app.models import MigrationItem, NamespaceMigration
from migrations_app.pipeline import (
    Cancelled,
    Executor,
    Fenced,
    ProgressFn,
)
from migrations_app.planning import Plan, PlanError, plan_build
from migrations_app.services.common import _JOB_STATUS, JOB_KIND, Phase, Run, Status, log
from twinadmin.audit.services import actor_name, audit_record
from twinadmin.jobs.models import Job
from twinadmin.registry.services import RegistryError, creator_create
from twinadmin.vectors import RateLimited, TransientError, VectorIndex, get_index

# -- plans and runs -----------------------------------------------------------------------------


def migration_preview(*, index: VectorIndex | None = None, **plan_args: Any) -> Plan:
    """The dry run: the plan as it would be saved, with its conflicts. Writes nothing."""
    return plan_build(index=index or get_index(), **plan_args)


def migration_create(
    *,
    actor: Any,
    creator_id: str,
    namespaces: list[str] | None = None,
    default_policy: str = Run.DefaultPolicy.CREATOR,
    naming: str = Run.Naming.UUID,
    delete_source: bool = False,
    create_creator: bool = False,
    index: VectorIndex | None = None,
) -> NamespaceMigration:
    """Save a plan as a queued run (items, job row, the creator when confirmed). Refuses, having
    written nothing, when the plan has errors or conflicts."""
    plan = plan_build(
        index=index or get_index(),
        creator_id=creator_id,
        namespaces=namespaces,
        default_policy=default_policy,
        naming=naming,
        delete_source=delete_source,
        create_creator=create_creator,
    )
    if not plan.ok:
        raise PlanError("Plan refused: " + "; ".join(plan.problems))
    try:
        with transaction.atomic():
            return _run_save(plan=plan, actor=actor)
    except IntegrityError as exc:
        # The partial unique indexes: another run took one of these namespaces meanwhile.
        raise PlanError(f"Plan refused: another active run holds one of these namespaces ({exc}).") from None
    except RegistryError as exc:
        raise PlanError(f"Plan refused: {exc}") from None


def _run_save(*, plan: Plan, actor: Any) -> NamespaceMigration:
    """The rows of a queued run (in the caller's transaction): the creator when the plan creates
    it, the job, the run, its items in plan order, and the audit entry."""
    user = actor if getattr(actor, "pk", None) else None
    created_creator = False
    if not plan.creator_exists:
        creator_create(creator_id=plan.creator_id)
        created_creator = True
    job = Job.objects.create(kind=JOB_KIND, created_by=user, message="queued")
    run = Run.objects.create(
        creator_id=plan.creator_id,
        created_creator=created_creator,
        naming=plan.naming,
        default_policy=plan.default_policy,
        delete_source=plan.delete_source,
        requested_by=user,
        requested_by_name=actor_name(actor),
        job=job,
    )
    Job.objects.filter(pk=job.pk).update(params={"run": run.pk}, correlation_id=run.correlation_id)
    _items_create(run=run, plan=plan)
    audit_record(
        actor=actor,
        action="migration.plan.create",
        target_type="run",
        target_id=str(run.pk),
        outcome="info",
        creator_id=plan.creator_id,
        correlation_id=run.correlation_id,
        details={
            "namespaces": len(plan.rows),
            "vectors": plan.vector_count,
            "twins": plan.twin_count,
            "naming": plan.naming,
            "default_policy": plan.default_policy,
            "delete_source": plan.delete_source,
            "created_creator": created_creator,
            "kept": plan.kept,
        },
    )
    return run


def _items_create(*, run: NamespaceMigration, plan: Plan) -> None:
    """One item per plan row, numbered in plan order from 1."""
    MigrationItem.objects.bulk_create(
        [
            MigrationItem(
                run=run,
                position=position,
                source_namespace=row.source,
                action=row.action,
                target_namespace=row.target,
                target_kind=row.target_kind,
                twin_id=row.twin_id,
                twin_name=row.twin_name,
                twin_naming=row.twin_naming,
                source_count=row.source_count,
                progress_total=row.source_count,
            )
            for position, row in enumerate(plan.rows, start=1)
        ]
    )


def remaining_phases(run: NamespaceMigration) -> list[str]:
    if run.phase == Phase.ROLLBACK:
        return [str(Phase.ROLLBACK)]
    if run.phase == Phase.DONE:
        return []
    order = [str(p) for p in Run.FORWARD_PHASES]
    return order[order.index(run.phase) :]


def migration_enqueue(*, run: NamespaceMigration) -> None:
    """Hand the remaining phases to the workers as one Celery chain, once the rows commit."""
    from celery import chain

    from migrations_app.tasks import run_phase

    signatures = [run_phase.si(run.pk, run.attempt, phase) for phase in remaining_phases(run)]
    if signatures:
        transaction.on_commit(lambda: chain(*signatures).apply_async())


# -- claiming and executing ---------------------------------------------------------------------


def new_runner_token() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def runner_is_gone(run: NamespaceMigration) -> bool:
    """Nobody is executing the run and nobody will: neither its runner nor a worker picking up
    its queued task has been heard of for MIGRATION_STALE_SECONDS. The heartbeat is the run's
    lease: a runner renews it at every checkpoint (and while it polls), on whatever host it runs,
    and a runner that lost it is fenced by the attempt number at its next checkpoint."""
    beat = run.heartbeat_at or run.created_at
    return (timezone.now() - beat).total_seconds() > conf.stale_after_seconds()


def run_claim(*, run_id: int, attempt: int, runner: str, phase: str) -> bool:
    """Take the run for `runner`: a compare-and-swap on (attempt, status, current runner).
    Returns False when another delivery holds it, or the run was resumed, finished or cancelled."""
    rolling_back = phase == Phase.ROLLBACK
    statuses = (Status.ROLLING_BACK,) if rolling_back else (Status.QUEUED, Status.RUNNING)
    run = Run.objects.filter(pk=run_id, attempt=attempt, status__in=statuses).first()
    if run is None:
        return False
    if run.cancel_requested or (
        run.job_id and Job.objects.filter(pk=run.job_id, status=Job.Status.CANCELLED).exists()
    ):
        # Cancelled between two phases, or from the generic jobs page before it started.
        if not run.runner or runner_is_gone(run):
            _finish(run, run.runner, status=Status.CANCELLED, message="cancelled")
        return False
    if run.runner and not runner_is_gone(run):
        return False
    now = timezone.now()
    claimed = Run.objects.filter(pk=run_id, attempt=attempt, status=run.status, runner=run.runner).update(
        status=Status.ROLLING_BACK if rolling_back else Status.RUNNING,
        runner=runner,
        heartbeat_at=now,
        started_at=run.started_at or now,
        message=f"{phase} running",
    )
    if claimed:
        _sync_job(run_id)
    return claimed == 1


def _sync_job(run_id: int) -> None:
    run = Run.objects.filter(pk=run_id).first()
    if run is None or not run.job_id:
        return
    finished = run.status in (Status.SUCCEEDED, Status.ROLLED_BACK, Status.FAILED, Status.CANCELLED)
    Job.objects.filter(pk=run.job_id).update(
        status=_JOB_STATUS[Status(run.status)],
        message=(run.message or run.status)[:500],
        error=run.error,
        started_at=run.started_at,
        finished_at=run.finished_at if finished else None,
        result={"run": run.pk, "status": run.status, "verified": run_verified(run)},
    )


def run_verified(run: NamespaceMigration) -> bool:
    flags = list(run.items.values_list("verified", flat=True))
    return bool(flags) and all(flags)


def _finish(run: NamespaceMigration, runner: str, *, status: str, message: str = "", error: str = "") -> bool:
    """Terminal (or resumable-failed) state, only if `runner` still owns the run."""
    fields: dict[str, Any] = {
        "status": status,
        "runner": "",
        "finished_at": timezone.now(),
        "message": message[:500],
        "error": error,
    }
    if status == Status.CANCELLED:
        fields["cancel_requested"] = False
    updated = Run.objects.filter(pk=run.pk, runner=runner).update(**fields)
    if updated and status in (Status.SUCCEEDED, Status.CANCELLED, Status.ROLLED_BACK):
        # Terminal: the sources (and targets) are free for another run.
        run.items.update(active=False)
    if updated:
        _sync_job(run.pk)
    return updated == 1


def migration_phase_execute(
    *,
    run_id: int,
    attempt: int,
    phase: str,
    runner: str | None = None,
    index: VectorIndex | None = None,
    on_progress: ProgressFn | None = None,
    retryable: bool = False,
) -> bool:
    """Claim the run and execute one phase. True when the phase completed. Errors are recorded
    on the run (FAILED, resumable), except transient index errors when `retryable` (the Celery
    task retries them with backoff; the checkpoints make the retry continue, not restart)."""
    runner = runner or new_runner_token()
    if not run_claim(run_id=run_id, attempt=attempt, runner=runner, phase=phase):
        log.info("run %s phase %s not claimed (attempt %s)", run_id, phase, attempt)
        return False
    run = Run.objects.get(pk=run_id)
    if phase not in remaining_phases(run):
        _release(run, runner)  # a redelivery of a phase that already completed
        return True
    if remaining_phases(run)[0] != phase:
        _release(run, runner)
        return False
    executor = Executor(run, runner, index=index or get_index(), on_progress=on_progress)
    try:
        executor.execute(phase)
    except Fenced:
        log.warning("run %s: runner %s was replaced; stopping", run_id, runner)
        return False
    except Cancelled:
        _finish(run, runner, status=Status.CANCELLED, message=f"cancelled during {phase}")
        _audit_run(run, "migration.run.cancelled", outcome="success", details={"phase": phase})
        _reread_touched(run, phase)
        return False
    except (TransientError, RateLimited) as exc:
        if retryable:
            _release(run, runner, message=f"{phase}: retrying after {type(exc).__name__}")
            raise
        _fail(run, runner, phase, exc)
        return False
    except Exception as exc:  # recorded on the run and shown on its page
        _fail(run, runner, phase, exc)
        return False
    _advance(run, runner, phase)
    return True


def _release(run: NamespaceMigration, runner: str, *, message: str = "") -> None:
    fields: dict[str, Any] = {"runner": ""}
    if message:
        fields["message"] = message[:500]
    Run.objects.filter(pk=run.pk, runner=runner).update(**fields)


def _fail(run: NamespaceMigration, runner: str, phase: str, exc: BaseException) -> None:
    log.warning("run %s failed in %s: %s", run.pk, phase, exc)
    error = f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=4)}"
    if _finish(run, runner, status=Status.FAILED, message=f"{phase} failed: {exc}"[:500], error=error):
        _audit_run(
            run, "migration.run.failed", outcome="failure", details={"phase": phase, "error": str(exc)[:500]}
        )
        _reread_touched(run, phase)


_WRITING_PHASES = (Phase.COPY, Phase.CUTOVER, Phase.ROLLBACK)


def _reread_touched(run: NamespaceMigration, phase: str) -> None:
    """A run that stopped midway in a phase that writes: the pages' rows for its namespaces are
    read again, so they show what is there now, not what was there before."""
    if phase not in _WRITING_PHASES:
        return
    from twinadmin.registry.services import index_namespaces_reread

    names: set[str] = set()
    for source, target in run.items.values_list("source_namespace", "target_namespace"):
        names.update(n for n in (source, target) if n)
    try:
        index_namespaces_reread(names=sorted(names))
    except Exception:  # an index that is down is often why the run stopped: the page says stale
        log.warning("could not re-read the namespaces of run %s", run.pk, exc_info=True)


def _advance(run: NamespaceMigration, runner: str, phase: str) -> None:
    if phase == Phase.ROLLBACK:
        Run.objects.filter(pk=run.pk, runner=runner).update(phase=Phase.DONE)
        if _finish(run, runner, status=Status.ROLLED_BACK, message="rolled back"):
            _audit_run(run, "migration.rollback.finish", outcome="success")
            _refresh_snapshot(run)
        return
    order = list(Run.FORWARD_PHASES)
    following = order[order.index(Phase(phase)) + 1] if phase != Phase.CUTOVER else Phase.DONE
    Run.objects.filter(pk=run.pk, runner=runner).update(phase=following, message=f"{phase} done")
    if following == Phase.DONE:
        if _finish(run, runner, status=Status.SUCCEEDED, message="cut over; every namespace verified"):
            items = list(run.items.all())
            _audit_run(
                run,
                "migration.run.finish",
                outcome="success",
                details={
                    "namespaces": len(items),
                    "verified": sum(1 for i in items if i.verified),
                    "twins_created": sum(1 for i in items if i.twin_created),
                    "sources_deleted": sum(1 for i in items if i.source_deleted),
                },
            )
            _refresh_snapshot(run)
    else:
        _release(run, runner)
        _sync_job(run.pk)


def _refresh_snapshot(run: NamespaceMigration) -> None:
    """Pages read the registry's index snapshot: before the run reports done, it learns the
    counts this run verified (a fresh describe could still show lagging counts). Forward: each
    target holds what verification counted, a deleted source nothing. Rolled back: targets
    gone, sources holding their backups again."""
    from twinadmin.registry.services import index_snapshot_apply

    observed: dict[str, int] = {}
    for item in run.items.select_related("backup"):
        report = item.verification or {}
        if item.step == MigrationItem.Step.ROLLED_BACK:
            if item.target_namespace:
                observed[item.target_namespace] = 0
            backup = getattr(item, "backup", None)
            observed[item.source_namespace] = (
                backup.vector_count if backup is not None else report.get("source_count", item.source_count)
            )
            continue
        if item.target_namespace:
            observed[item.target_namespace] = int(report.get("target_count", 0))
        observed[item.source_namespace] = 0 if item.source_deleted else int(report.get("source_count", 0))
    try:
        index_snapshot_apply(observed=observed)
    except Exception:  # the migration itself is done; a stale snapshot only says so
        log.warning("index snapshot update after a migration failed", exc_info=True)


def _audit_run(
    run: NamespaceMigration,
    action: str,
    *,
    outcome: str,
    actor: Any = None,
    details: dict | None = None,
    correlation_id: uuid.UUID | str | None = None,
) -> None:
    audit_record(
        actor=actor if actor is not None else (run.requested_by_name or None),
        action=action,
        target_type="run",
        target_id=str(run.pk),
        outcome=outcome,
        details={
            "status": Run.objects.filter(pk=run.pk).values_list("status", flat=True).first(),
            **(details or {}),
        },
        creator_id=run.creator_id,
        correlation_id=correlation_id or run.correlation_id,
    )


def migration_execute(
    *, run_id: int, index: VectorIndex | None = None, on_progress: ProgressFn | None = None
) -> NamespaceMigration:
    """Run every remaining phase in this process (what the commands do by default), through the
    same claim and phase code a worker runs."""
    runner = new_runner_token()
    run = Run.objects.get(pk=run_id)
    for phase in remaining_phases(run):
        if not migration_phase_execute(
            run_id=run_id,
            attempt=run.attempt,
            phase=phase,
            runner=runner,
            index=index,
            on_progress=on_progress,
        ):
            break
    run.refresh_from_db()
    return run
