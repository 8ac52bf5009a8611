"""Plans and runs: saving a plan as a run, and the job that executes it.

A run is carried by one job at a time (`run.job`, kind `namespace_migration`), run through the
jobs lifecycle like every resumable kind (twinadmin.jobs): claimed once however often its
message is delivered, fenced by its lease, continued by a new job when its worker dies (the
jobs sweep), retried with backoff after transient index errors. `migration_job` is its handler;
`migration_execute` runs it in this process for the commands.
"""

from __future__ import annotations

import traceback
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from migrations_app.models import MigrationItem, NamespaceMigration
from migrations_app.pipeline import Cancelled, Executor, ProgressFn
from migrations_app.planning import Plan, PlanError, plan_build
from migrations_app.services.common import JOB_KIND, Phase, Run, Status, log
from twinadmin.audit.services import actor_name, audit_record
from twinadmin.jobs.leases import LeaseLost, job_enqueue, lease_prepare, lease_renew, resumable_job_run
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import JobCancelled, JobPaused, job_will_retry
from twinadmin.registry.services import RegistryError, creator_create
from twinadmin.vectors import VectorIndex, get_index

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
    run = Run.objects.create(
        creator_id=plan.creator_id,
        created_creator=created_creator,
        naming=plan.naming,
        default_policy=plan.default_policy,
        delete_source=plan.delete_source,
        requested_by=user,
        requested_by_name=actor_name(actor),
    )
    run.job = run_job_create(run, actor=actor)
    run.save(update_fields=["job"])
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
    """Hand the run's job to the workers once the rows commit."""
    if run.job_id:
        job_enqueue(Job(pk=run.job_id, kind=JOB_KIND))


def run_job_create(run: NamespaceMigration, *, actor: Any = None) -> Job:
    """A new job to carry the run (its first, or after a failure, a cancel, or for a rollback),
    pending, with its lease ready: the only way a run gets a job, so every run's work goes
    through the jobs lifecycle (claim, lease, take-over)."""
    job = Job.objects.create(
        kind=JOB_KIND,
        params={"run": run.pk},
        correlation_id=run.correlation_id,
        created_by=actor if getattr(actor, "pk", None) else None,
        message="queued",
    )
    lease_prepare(job)
    return job


def run_verified(run: NamespaceMigration) -> bool:
    flags = list(run.items.values_list("verified", flat=True))
    return bool(flags) and all(flags)


# -- the job that runs a run ----------------------------------------------------------------------


def migration_job(
    job: Job,
    *,
    index: VectorIndex | None = None,
    on_progress: ProgressFn | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """The handler of a run's job: every remaining phase in order, each fenced by the job's
    lease (a runner whose job was taken over stops at its next checkpoint) and checkpointed on
    the run's rows, so whichever job continues the run (after a worker died, a retry, a resume)
    picks up where the last one stopped. `until`: stop after that phase, the job pending
    (paused) for a later `migration_execute`: a staged run.

    A cancel ends the job cancelled; a transient index error that the task will retry leaves
    the run queued ("retrying"); any other error fails the run (resumable) and the job."""
    run = Run.objects.get(pk=job.params["run"])
    if run.job_id == job.pk and run.status == Status.CANCELLED:
        raise JobCancelled(f"run {run.pk} was cancelled")
    if run.job_id != job.pk or run.status not in Run.ACTIVE:
        return {"skipped": f"run {run.pk} is {run.status} (job {run.job_id})"}
    _run_start(run, job)
    executor = Executor(run, job, index=index or get_index(), on_progress=on_progress)
    for phase in remaining_phases(run):
        Run.objects.filter(pk=run.pk, job=job).update(message=f"{phase} running")
        try:
            executor.execute(phase)
        except LeaseLost:
            log.warning("run %s: job %s was taken over; stopping", run.pk, job.pk)
            raise
        except Cancelled:
            _finish(run, job, status=Status.CANCELLED, message=f"cancelled during {phase}")
            _audit_run(run, "migration.run.cancelled", outcome="success", details={"phase": phase})
            _reread_touched(run, phase)
            raise JobCancelled(f"cancelled during {phase}") from None
        except Exception as exc:
            if job_will_retry(exc):
                _run_requeue(run, job, message=f"{phase}: retrying after {type(exc).__name__}")
            else:
                _fail(run, job, phase, exc)
            raise
        _advance(run, job, phase)
        if until == phase and remaining_phases(run):
            _run_requeue(run, job, message=f"paused after {phase}")
            raise JobPaused(f"paused after {phase}")
    run.refresh_from_db()
    return {"run": run.pk, "status": run.status, "verified": run_verified(run)}


def _run_start(run: NamespaceMigration, job: Job) -> None:
    """The run is running (or rolling back) for this job. A cancel that arrived while it was
    queued (or while its previous runner died) ends it here."""
    if run.cancel_requested:
        _finish(run, job, status=Status.CANCELLED, message="cancelled")
        raise JobCancelled("cancelled before it started")
    now = timezone.now()
    rolling_back = run.phase == Phase.ROLLBACK
    Run.objects.filter(pk=run.pk, job=job).update(
        status=Status.ROLLING_BACK if rolling_back else Status.RUNNING, started_at=run.started_at or now
    )


def _run_requeue(run: NamespaceMigration, job: Job, *, message: str) -> None:
    """The job goes back to pending (a retry, a pause): the run waits for it, not failed."""
    rolling_back = run.phase == Phase.ROLLBACK
    Run.objects.filter(pk=run.pk, job=job).update(
        status=Status.ROLLING_BACK if rolling_back else Status.QUEUED, message=message[:500]
    )


def _finish(run: NamespaceMigration, job: Job, *, status: str, message: str = "", error: str = "") -> bool:
    """Terminal (or resumable-failed) state, only while `job` still holds the run: the lease is
    renewed inside the transaction, which holds a concurrent take-over back until it commits."""
    fields: dict[str, Any] = {
        "status": status,
        "finished_at": timezone.now(),
        "message": message[:500],
        "error": error,
    }
    if status == Status.CANCELLED:
        fields["cancel_requested"] = False
    with transaction.atomic():
        lease_renew(job)
        updated = Run.objects.filter(pk=run.pk, job=job).update(**fields)
        if updated and status in (Status.SUCCEEDED, Status.CANCELLED, Status.ROLLED_BACK):
            # Terminal: the sources (and targets) are free for another run.
            run.items.update(active=False)
    return updated == 1


def _fail(run: NamespaceMigration, job: Job, phase: str, exc: BaseException) -> None:
    log.warning("run %s failed in %s: %s", run.pk, phase, exc)
    error = f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=4)}"
    if _finish(run, job, status=Status.FAILED, message=f"{phase} failed: {exc}"[:500], error=error):
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


def _advance(run: NamespaceMigration, job: Job, phase: str) -> None:
    if phase == Phase.ROLLBACK:
        Run.objects.filter(pk=run.pk, job=job).update(phase=Phase.DONE)
        if _finish(run, job, status=Status.ROLLED_BACK, message="rolled back"):
            _audit_run(run, "migration.rollback.finish", outcome="success")
            _refresh_snapshot(run)
        return
    order = list(Run.FORWARD_PHASES)
    following = order[order.index(Phase(phase)) + 1] if phase != Phase.CUTOVER else Phase.DONE
    Run.objects.filter(pk=run.pk, job=job).update(phase=following, message=f"{phase} done")
    run.phase = following
    if following == Phase.DONE and _finish(
        run, job, status=Status.SUCCEEDED, message="cut over; every namespace verified"
    ):
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
    *,
    run_id: int,
    index: VectorIndex | None = None,
    on_progress: ProgressFn | None = None,
    until: str | None = None,
) -> NamespaceMigration:
    """Run the run's job in this process (what the commands do by default), through the same
    claim, lease and handler a worker runs; with a live job running elsewhere it does nothing."""
    run = Run.objects.get(pk=run_id)
    if run.job_id:
        resumable_job_run(
            job_id=run.job_id,
            handler=lambda job: migration_job(job, index=index, on_progress=on_progress, until=until),
        )
    run.refresh_from_db()
    return run
