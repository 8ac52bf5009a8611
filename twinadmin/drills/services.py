"""The erasure drill: a scratch creator goes through the real twin-deletion and creator-erasure
paths, so a broken erasure path is noticed before a real request arrives.

Everything the drill writes is removed in a `finally`, whatever step failed: the scratch
namespaces through the vector layer, the registry rows, and erasure rows left unfinished. The
drill's completed twin-deletion and erasure rows stay: they are the receipts the erasure
services' own audit entries point at. Audit entries are append-only and stay too; `drill.start`
and `drill.end` share the drill job's correlation id and carry {"drill": true}.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable
from typing import Any

import tenacity
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from twinadmin.audit.services import audit_record
from twinadmin.drills.models import DrillRun
from twinadmin.erasure.models import ErasureRequest, TwinDeletion
from twinadmin.erasure.namespaces import owned_namespaces
from twinadmin.erasure.services import creator_remnants, erasure_from_shell, twin_deletion_request
from twinadmin.jobs.leases import LeaseLost, job_worker_lost, lease_renew, resumable_job_run
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_create
from twinadmin.lib.polling import poll_until
from twinadmin.registry import codec
from twinadmin.registry.models import Creator, Twin
from twinadmin.registry.services import creator_create, index_snapshot_apply, twin_create
from twinadmin.vectors import get_index
from twinadmin.vectors.errors import RateLimited, TransientError
from twinadmin.vectors.types import Vector, as_float32

KIND_ERASURE_DRILL = "erasure_drill"
# The erasure services record this as the approving shell command (as delete_creator does).
DRILL_COMMAND = "test_deletion"
TWINS = ("one", "two")
VECTORS_PER_NAMESPACE = 3


class DrillError(ValueError):
    """The drill cannot start (bad or taken scratch id); nothing was written."""


class DecisionRefused(ValueError):
    """The decision cannot be made for this creator (not registered, erased); nothing recorded."""


class DrillStepFailed(RuntimeError):
    """A step's check did not hold."""


def drill_creator_id() -> str:
    return f"drill-{secrets.token_hex(4)}"


def _checked_scratch_id(creator_id: str) -> str:
    try:
        codec.validate_creator_id(creator_id)
    except codec.InvalidId as exc:
        raise DrillError(str(exc)) from None
    # The drill erases whatever it is given: never a creator (or data) that exists already.
    if Creator.objects.filter(creator_id=creator_id).exists():
        raise DrillError(f"Creator {creator_id!r} already exists; the drill only erases a scratch creator.")
    if owned_namespaces(get_index(), creator_id):
        raise DrillError(f"The index already holds namespaces of {creator_id!r}; pick another scratch id.")
    return creator_id


def erasure_drill_start(*, actor: Any, creator_id: str | None = None, enqueue: bool = True) -> DrillRun:
    """Save a drill run and its job; with `enqueue`, the workers run it after commit."""
    creator_id = _checked_scratch_id(creator_id or drill_creator_id())
    user = None if isinstance(actor, str) or actor is None else actor
    name = actor if isinstance(actor, str) else (actor.get_username() if actor else "system")
    with transaction.atomic():
        job = job_create(
            kind=KIND_ERASURE_DRILL,
            params={"actor": name, "creator_id": creator_id},
            user=user,
            enqueue=enqueue,
        )
        return DrillRun.objects.create(creator_id=creator_id, actor=name, job=job)


def erasure_drill_run(*, actor: Any, creator_id: str | None = None) -> DrillRun:
    """Run a drill here, now (the command and the scheduled task)."""
    run = erasure_drill_start(actor=actor, creator_id=creator_id, enqueue=False)
    assert run.job_id is not None  # started with its job
    resumable_job_run(job_id=run.job_id)
    run.refresh_from_db()
    return run


def _vectors(prefix: str, dimension: int, seed: int) -> list[Vector]:
    rng = random.Random(seed)
    return [
        Vector(
            f"{prefix}-{i}", as_float32([rng.uniform(0.1, 1.0) for _ in range(dimension)]), {"drill": True}
        )
        for i in range(VECTORS_PER_NAMESPACE)
    ]


def _present(name: str) -> bool:
    return get_index().has_ids(name)


class _Steps:
    """Times each step and records it on the run as it ends, so a crash still shows how far it got."""

    def __init__(self, run: DrillRun) -> None:
        self.run = run

    def __call__(self, name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        done = next((s for s in self.run.steps if s["name"] == name and s["ok"]), None)
        if done is not None:  # a drill continued after its worker died: this step held already
            return dict(done["detail"])
        began = time.perf_counter()
        try:
            detail = fn()
        except Exception as exc:
            self._record(name, False, began, {"error": f"{type(exc).__name__}: {exc}"})
            raise
        self._record(name, True, began, detail)
        return detail

    def _record(self, name: str, ok: bool, began: float, detail: dict[str, Any]) -> None:
        seconds = round(time.perf_counter() - began, 4)
        self.run.steps = [*self.run.steps, {"name": name, "ok": ok, "seconds": seconds, "detail": detail}]
        DrillRun.objects.filter(pk=self.run.pk).update(steps=self.run.steps)


def _drill(run: DrillRun, job: Job, steps: _Steps) -> None:
    scratch = _Scratch(run, job)
    for name, fn in (
        ("create", scratch.create),
        ("delete_twin", scratch.delete_twin),
        ("verify_twin", scratch.verify_twin),
        ("erase_creator", scratch.erase_creator),
        ("verify_creator", scratch.verify_creator),
    ):
        steps(name, fn)


class _Scratch:
    """The drill's scratch creator and its namespaces; one method per step, each returning the
    step's detail or raising DrillStepFailed when its check does not hold."""

    def __init__(self, run: DrillRun, job: Job) -> None:
        self.run = run
        self.job = job
        # Who started the drill: the operator who clicked, or the command / schedule that ran it.
        self.actor: Any = job.created_by or run.actor or f"cli:{DRILL_COMMAND}"
        self.cid = run.creator_id
        self.reason = f"erasure drill #{run.pk}"
        self.index = get_index()
        self.wide = codec.creator_namespace(self.cid)
        self.twin_ns = {t: codec.twin_namespace(self.cid, t) for t in TWINS}

    def create(self) -> dict[str, Any]:
        """Idempotent, like every step: a drill continued midway finds what it wrote already
        (the scratch id was checked unused when the drill started)."""
        cid, index, wide, twin_ns = self.cid, self.index, self.wide, self.twin_ns
        creator = Creator.objects.filter(creator_id=cid).first() or creator_create(
            creator_id=cid, display_name=f"Erasure drill #{self.run.pk}"
        )
        for i, twin_id in enumerate(TWINS):
            if not Twin.objects.filter(creator=creator, twin_id=twin_id).exists():
                twin_create(creator=creator, twin_id=twin_id, name=f"drill {twin_id}")
            index.upsert(twin_ns[twin_id], _vectors(twin_id, index.dimension, i))
        index.upsert(wide, _vectors("wide", index.dimension, 99))
        missing = [n for n in [wide, *twin_ns.values()] if not _present(n)]
        if missing:
            raise DrillStepFailed(f"written but not readable: {missing}")
        return {
            "creator_id": cid,
            "namespaces": [wide, *twin_ns.values()],
            "vectors": 3 * VECTORS_PER_NAMESPACE,
        }

    def delete_twin(self) -> dict[str, Any]:
        deletion = TwinDeletion.objects.filter(creator_id=self.cid, twin_id="one").order_by("-pk").first()
        if deletion is None:
            deletion = twin_deletion_request(
                creator_id=self.cid,
                twin_id="one",
                reason=self.reason,
                confirm="one",
                actor=self.actor,
                enqueue=False,
            )
        assert deletion.job_id is not None
        self._run_to_the_end(deletion)
        deletion.refresh_from_db()
        if deletion.status != TwinDeletion.Status.VERIFIED:
            raise DrillStepFailed(deletion.error or f"twin deletion #{deletion.pk} is {deletion.status}")
        return {"deletion": deletion.pk, "job": deletion.job_id, "vectors_before": deletion.count_before}

    def _run_to_the_end(self, row: TwinDeletion | ErasureRequest) -> None:
        """Run a step's job here, or take it over from a runner that died with the drill's last
        worker, or, when a live worker is continuing it already, wait for it to end (renewing
        the drill's lease meanwhile). The step's check then reads the row."""

        def ended(_: int) -> bool:
            lease_renew(self.job)
            row.refresh_from_db()
            job = row.job
            assert job is not None  # both kinds of row are saved with their job
            if job.status == Job.Status.PENDING or job_worker_lost(job):
                resumable_job_run(job_id=job.pk, runner=f"cli:{DRILL_COMMAND}")
                job.refresh_from_db()
            return job.is_finished

        timeout = float(settings.ERASURE_VERIFY_TIMEOUT_SECONDS) + 4 * float(settings.JOB_LEASE_SECONDS)
        poll_until(ended, timeout=timeout, initial=0.05)

    def verify_twin(self) -> dict[str, Any]:
        wide, twin_ns = self.wide, self.twin_ns
        if _present(twin_ns["one"]):
            raise DrillStepFailed(f"{twin_ns['one']} still holds vectors")
        kept = [n for n in (wide, twin_ns["two"]) if not _present(n)]
        if kept:
            raise DrillStepFailed(f"deleting one twin also removed {kept}")
        if Twin.objects.get(creator__creator_id=self.cid, twin_id="one").status != Twin.Status.DELETED:
            raise DrillStepFailed("twin 'one' is not marked deleted")
        return {"gone": twin_ns["one"], "untouched": [wide, twin_ns["two"]]}

    def erase_creator(self) -> dict[str, Any]:
        erasure = ErasureRequest.objects.filter(
            creator_id=self.cid, status=ErasureRequest.Status.COMPLETED
        ).first() or erasure_from_shell(
            creator_id=self.cid, reason=self.reason, command=DRILL_COMMAND, requested_by=self.actor
        )
        assert erasure.job_id is not None
        self._run_to_the_end(erasure)
        erasure.refresh_from_db()
        if erasure.status != ErasureRequest.Status.COMPLETED:
            raise DrillStepFailed(erasure.last_error or f"erasure request #{erasure.pk} is {erasure.status}")
        return {"request": erasure.pk, "job": erasure.job_id}

    def verify_creator(self) -> dict[str, Any]:
        remnants = creator_remnants(creator_id=self.cid)
        if not remnants["clean"]:
            raise DrillStepFailed(f"left behind: {remnants['namespaces']} {remnants['backups_remaining']}")
        if Creator.objects.get(creator_id=self.cid).status != Creator.Status.ERASED:
            raise DrillStepFailed("the creator is not marked erased")
        return {"clean": True}


def _cleanup(creator_id: str, *, on_round: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Remove everything of the scratch creator, whatever state the drill left it in.

    The index part is retried with backoff for DRILL_CLEANUP_TIMEOUT_SECONDS: the failure that
    broke the drill is often a passing one (an outage, rate limits), and a drill must not leave
    its data behind because of it. Deleting a namespace is idempotent, so a retry repeats it all."""
    index = get_index()
    known = {codec.creator_namespace(creator_id)} | {codec.twin_namespace(creator_id, t) for t in TWINS}
    deleted: set[str] = set()
    gone: set[str] = set()

    def remove_from_index() -> None:
        names = known | set(owned_namespaces(index, creator_id))
        refused: list[str] = []
        for name in sorted(names):
            try:
                if index.delete_namespace(name):
                    deleted.add(name)
            except (RateLimited, TransientError) as exc:  # the others are still worth deleting
                refused.append(f"{name}: {exc}")
        left = [n for n in sorted(names) if index.has_ids(n)]
        gone.update(set(names) - set(left))
        if left:
            raise DrillStepFailed(
                f"cleanup could not remove {left}" + (f" ({'; '.join(refused)})" if refused else "")
            )

    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type((RateLimited, TransientError, DrillStepFailed)),
        stop=tenacity.stop_after_delay(float(settings.DRILL_CLEANUP_TIMEOUT_SECONDS)),
        wait=tenacity.wait_exponential(multiplier=0.1, max=5),
        before_sleep=lambda _: on_round(),  # the drill's lease: its runner is alive, retrying
        reraise=True,
    )
    try:
        retrying(remove_from_index)
    finally:
        # The pages read the snapshot: what the cleanup saw gone is gone there too.
        index_snapshot_apply(observed=dict.fromkeys(gone, 0))
        with transaction.atomic():
            # Unfinished erasure rows would sit in the approvers' queue for a creator that is gone.
            ErasureRequest.objects.filter(creator_id=creator_id).exclude(
                status=ErasureRequest.Status.COMPLETED
            ).delete()
            TwinDeletion.objects.filter(creator_id=creator_id).exclude(
                status=TwinDeletion.Status.VERIFIED
            ).delete()
            twins, _ = Twin.objects.filter(creator__creator_id=creator_id).delete()
            creators, _ = Creator.objects.filter(creator_id=creator_id).delete()
    return {"namespaces_deleted": sorted(deleted), "registry_rows_deleted": twins + creators}


def erasure_drill_execute(job: Job) -> dict[str, Any]:
    """The job: run the drill, always clean up, record each step; the job fails when the drill did."""
    run = DrillRun.objects.get(job=job)
    actor = job.created_by or job.params.get("actor") or None
    marker = {"drill": True, "run": run.pk, "scratch_creator": run.creator_id}
    audit: dict[str, Any] = {
        "actor": actor,
        # Audit targets are a fixed set: a drill is a run, named apart from migration runs.
        "target_type": "run",
        "target_id": f"drill-{run.pk}",
        "creator_id": run.creator_id,
        "correlation_id": job.correlation_id,
    }
    if run.status in (DrillRun.Status.PASSED, DrillRun.Status.FAILED):
        return {"skipped": f"drill #{run.pk} is {run.status}"}
    if run.started_at is None:
        audit_record(action="drill.start", outcome="intent", details=marker, **audit)
        run.status, run.started_at = DrillRun.Status.RUNNING, timezone.now()
        run.save(update_fields=["status", "started_at"])
    else:  # its worker died: this job continues it, from the steps that held
        audit_record(action="drill.continue", outcome="info", details={**marker, "job": job.pk}, **audit)
    steps = _Steps(run)
    error = ""
    try:
        _drill(run, job, steps)
    except LeaseLost:
        raise  # taken over: the job that continues the drill also cleans up, not this one
    except Exception as exc:  # recorded on the run; cleanup still runs
        error = f"{type(exc).__name__}: {exc}"
    try:
        steps("cleanup", lambda: _cleanup(run.creator_id, on_round=lambda: lease_renew(job)))
    except LeaseLost:
        raise
    except Exception as exc:
        error = error or f"{type(exc).__name__}: {exc}"
    run.status = DrillRun.Status.FAILED if error else DrillRun.Status.PASSED
    run.error, run.finished_at = error, timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    audit_record(
        action="drill.end",
        outcome="failure" if error else "success",
        details={**marker, "passed": not error, "error": error[:500], "seconds": run.seconds},
        **audit,
    )
    if error:
        raise DrillStepFailed(error)
    return {"run": run.pk, "passed": True, "seconds": run.seconds}


# --- decision point ---------------------------------------------------------------------------


def decision_keep_record(*, creator_id: str, actor: Any) -> None:
    """Record "keep the migrated data" with what had been verified when it was decided."""
    from twinadmin.drills.selectors import decision_summary

    summary = decision_summary(creator_id=creator_id)
    if not summary["can_decide"]:
        creator = summary["creator"]
        state = f"is {creator.get_status_display().lower()}" if creator else "is not registered"
        raise DecisionRefused(
            f"Creator {creator_id} {state}: there is no migrated data to keep. Nothing was recorded."
        )
    migration, drill = summary["migration"], summary["drill"]
    audit_record(
        actor=actor,
        action="decision.keep",
        target_type="creator",
        target_id=creator_id,
        creator_id=creator_id,
        outcome="info",
        details={
            "decision": "keep-migrated-data",
            "migration_run": migration.pk if migration else None,
            "migration_verified": summary["migration_verified"],
            "drill_run": drill.pk if drill else None,
            "drill_passed": summary["drill_passed"],
            "latency_reports": [r.pk for r in summary["reports"]],
        },
    )
