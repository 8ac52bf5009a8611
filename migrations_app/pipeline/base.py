"""The engine's common part: fencing by the job's lease, checkpoints, progress, audit, and
reading namespaces in bounded batches. Each phase is a mixin over `ExecutorBase` (backup.py,
copy.py, verify.py, cutover.py, rollback.py); `Executor` (executor.py) combines them.

Every checkpoint renews the lease of the job that runs the run (twinadmin.jobs.leases): a runner
whose job was taken over (its worker presumed dead) stops there with `LeaseLost`, and a cancel
request takes effect there. Database writes stay on the calling thread; only index requests,
hashing and Parquet decoding run on the pool.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from typing import Any, TypeVar

from django.conf import settings
from django.utils import timezone

from migrations_app import backups, checksums, conf
from migrations_app.models import MigrationItem, NamespaceBackup, NamespaceMigration
from twinadmin.audit.services import audit_record
from twinadmin.jobs.leases import lease_renew
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_progress
from twinadmin.lib.concurrency import bounded_map
from twinadmin.lib.memory import release_freed_memory
from twinadmin.lib.polling import poll_until
from twinadmin.lineage.models import Lineage
from twinadmin.lineage.services import lineage_open
from twinadmin.vectors import VectorIndex

from .adaptive import ConcurrencyController, adaptive_map

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
Item = MigrationItem
Step = MigrationItem.Step
Phase = NamespaceMigration.Phase
ProgressFn = Callable[[MigrationItem, str, int, int], None]
EXAMPLES = 50  # ids kept per kind of mismatch in a verification report
PROGRESS_EVERY_SECONDS = 1.0  # how often the job row learns the progress (pages poll it)
ADAPTIVE_INITIAL = 8  # units in flight an adaptive map starts from (the fixed number it replaced)
ADAPTIVE_MAXIMUM = 32  # and the most it may climb to


TRIM_EVERY_BYTES = 32 * 2**20


class Cancelled(Exception):
    """An operator (or an erasure) asked the run to stop; raised at a checkpoint."""


class VerificationFailed(Exception):
    """Counts, ids, values or metadata differ: nothing is cut over."""


class RollbackRefused(Exception):
    """A rollback precondition does not hold; nothing was written."""


def ordered_map(fn: Callable[[T], R], items: Iterable[T], *, workers: int) -> Iterator[R]:
    """fn over items on `workers` threads, results in input order, at most 2 x workers batches
    in memory (the lib's bounded map with the engine's window): bounded however long `items` is."""
    return bounded_map(fn, items, workers=workers, window=2 * workers - 1, thread_name_prefix="migration")


class ExecutorBase:
    def __init__(
        self,
        run: NamespaceMigration,
        job: Job,
        *,
        index: VectorIndex,
        on_progress: ProgressFn | None = None,
    ) -> None:
        self.run = run
        self.job = job
        self.index = index
        self.on_progress = on_progress
        self.actor = run.requested_by_name or None
        self.batch = conf.batch_size(index)
        self.workers = conf.concurrency(index)
        # MIGRATION_CONCURRENCY=0 over a backend whose calls overlap (HTTP): found while running.
        self.adaptive = not settings.MIGRATION_CONCURRENCY and index.concurrency_hint > 1
        self.controllers: list[ConcurrencyController] = []  # one per map, for the bench's figures
        self._progress_at = 0.0
        self._since_trim = 0
        self._last_done = 0

    def map(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """`fn` over `items` on the pool, results in order: a fixed window (`ordered_map`) when
        MIGRATION_CONCURRENCY fixes it or the backend has one writer, else an adaptive one."""
        if not self.adaptive:
            return ordered_map(fn, items, workers=self.workers)
        index = self.index

        def throttles() -> int:  # rate-limit answers the index has seen so far (0: it says none)
            return int(getattr(index, "throttle_count", 0))

        controller = ConcurrencyController(
            initial=ADAPTIVE_INITIAL, maximum=ADAPTIVE_MAXIMUM, throttles=throttles
        )
        self.controllers.append(controller)
        return adaptive_map(fn, items, controller=controller, thread_name_prefix="migration")

    def heartbeat(self) -> None:
        """Prove we still run the run: renew the job's lease (`LeaseLost` when another job took
        it over); stop with `Cancelled` if an operator or an erasure asked it to stop."""
        lease_renew(self.job)
        if NamespaceMigration.objects.filter(pk=self.run.pk, cancel_requested=True).exists():
            raise Cancelled(f"run {self.run.pk} was cancelled")

    def save(self, item: MigrationItem, **fields: Any) -> None:
        for name, value in fields.items():
            setattr(item, name, value)
        item.updated_at = timezone.now()
        MigrationItem.objects.filter(pk=item.pk).update(updated_at=item.updated_at, **fields)

    def start_step(self, item: MigrationItem, step: str, *, done: int, total: int) -> None:
        self._last_done = done
        self.heartbeat()
        self.save(
            item, step=step, progress_done=done, progress_total=total, progress_started_at=timezone.now()
        )
        self.report(item, step, done, total, force=True)

    def checkpoint(self, item: MigrationItem, *, done: int, **fields: Any) -> None:
        self.heartbeat()
        self.save(item, progress_done=done, **fields)
        self.report(item, item.step, done, item.progress_total)
        self._since_trim += max(0, done - self._last_done) * self.index.dimension * 4
        self._last_done = done
        if self._since_trim >= TRIM_EVERY_BYTES:
            self._since_trim = 0
            release_freed_memory()

    def report(self, item: MigrationItem, step: str, done: int, total: int, *, force: bool = False) -> None:
        if self.on_progress is not None:
            self.on_progress(item, step, done, total)
        now = time.monotonic()
        if force or now - self._progress_at >= PROGRESS_EVERY_SECONDS:
            self._progress_at = now
            job_progress(
                self.job, done=done, total=total, message=f"{step} {item.source_namespace}: {done}/{total}"
            )

    def audit(
        self,
        action: str,
        *,
        target_type: str,
        target_id: str,
        outcome: str = "info",
        details: dict[str, Any] | None = None,
    ) -> None:
        audit_record(
            actor=self.actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            outcome=outcome,
            details={"run": self.run.pk, **(details or {})},
            creator_id=self.run.creator_id,
            correlation_id=self.run.correlation_id,
        )

    def items(self) -> list[MigrationItem]:
        return list(self.run.items.select_related("backup").order_by("position"))

    def id_groups(self, namespace: str) -> Iterator[list[str]]:
        group: list[str] = []
        for ids in self.index.iter_id_pages(namespace, page_size=min(100, self.batch)):
            group.extend(ids)
            while len(group) >= self.batch:
                yield group[: self.batch]
                group = group[self.batch :]
        if group:
            yield group

    def source_units(self, items: list[MigrationItem]) -> Iterator[tuple[MigrationItem, list[str] | None]]:
        """(item, batch of source ids) for every item in turn, then (item, None) once an item's
        source is fully listed: one stream, so a pool works across namespaces."""
        for item in items:
            for ids in self.id_groups(item.source_namespace):
                yield item, ids
            yield item, None

    def read_namespace(self, namespace: str, transform: Callable[[list], Any] | None = None) -> Iterator[Any]:
        """The namespace's vectors in listing order, one fetched batch at a time (ids deleted
        between listing and fetching are simply absent), each batch passed through `transform`
        on the pool (hashing runs there, beside the fetches, not on the consuming thread)."""

        def load(ids: list[str]) -> Any:
            found = self.index.fetch(namespace, ids)
            vectors = [found[i] for i in ids if i in found]
            return transform(vectors) if transform else vectors

        yield from self.map(load, self.id_groups(namespace))

    def namespace_checksum(
        self, namespace: str, item: MigrationItem | None = None
    ) -> checksums.NamespaceChecksum:
        total = checksums.NamespaceChecksum()
        for batch in self.read_namespace(namespace, transform=backups.hashed):
            total.add_all(batch.digests)
            if item is not None:
                self.checkpoint(item, done=total.count)
        return total

    def poll_counts(self, expected: dict[str, int], *, stop_above: Collection[str] = ()) -> dict[str, Any]:
        """Pinecone's counts lag writes and deletes: poll with backoff until they agree with
        what listing found, or the deadline passes; or until a namespace of `stop_above` counts
        more than expected (vectors nobody expected, or a delete not counted yet: the caller
        lists it to tell which, rather than wait out the deadline). Records what it saw."""
        started = time.monotonic()
        seen: dict[str, int] = {}
        polls = 0

        def settled(round_no: int) -> bool:
            nonlocal polls
            polls = round_no
            # One request for every namespace of the phase, not two per namespace.
            observed = self.index.describe_index_stats().namespaces
            seen.clear()
            seen.update({name: observed.get(name, 0) for name in expected})
            return seen == expected or any(seen[name] > expected[name] for name in stop_above)

        poll_until(settled, timeout=conf.count_deadline_seconds(), initial=0.05, on_round=self.heartbeat)
        return {
            "converged": seen == expected,
            "expected": expected,
            "observed": seen,
            "polls": polls,
            "seconds": round(time.monotonic() - started, 3),
        }

    def wait_gone(self, namespace: str) -> bool:
        """After a delete: no ids listed and the count at zero (polled, as counts lag)."""

        def gone(_: int) -> bool:
            return not self.index.has_ids(namespace) and self.index.namespace_count(namespace) == 0

        return poll_until(gone, timeout=conf.count_deadline_seconds(), initial=0.05, on_round=self.heartbeat)

    def open_lineage(self, item: MigrationItem, kind: str) -> Lineage:
        """The record of this item's copy: the source namespace, the target it is copied into
        (none for "delete after backup" or a restore), the run and the backup."""
        return lineage_open(
            kind=kind,
            creator_id=self.run.creator_id,
            source_namespace=item.source_namespace,
            target_namespace=item.target_namespace if kind == Lineage.Kind.MIGRATION else "",
            run=self.run,
            item=item,
            backup_ref=str(item.backup.pk),
        )

    def available_backup(self, item: MigrationItem) -> NamespaceBackup:
        backup = getattr(item, "backup", None)
        if backup is None or not backup.complete or backup.status != NamespaceBackup.Status.AVAILABLE:
            status = backup.status if backup else "missing"
            raise RuntimeError(f"no usable backup of {item.source_namespace} ({status}); nothing was copied")
        return backup

    def upsert_unit(
        self, unit: tuple[str, MigrationItem, backups.Batch | None]
    ) -> tuple[MigrationItem, int | None]:
        """Write one backup batch into `namespace`. Results come back in file order whatever
        finished first on the pool, so the offset returned always ends a fully written prefix
        of the file: the checkpoint a resumed copy starts from."""
        namespace, item, batch = unit
        if batch is None:
            return item, None
        if batch.vectors:
            self.index.upsert(namespace, batch.vectors)
        return item, batch.offset + len(batch.vectors)

    def audited_delete(self, namespace: str, *, action: str, details: dict[str, Any]) -> None:
        """Delete a namespace with an audit entry before and after (counts, outcome), then wait
        until listing and the lagging count both show it gone."""
        self.heartbeat()  # last fence and cancel check before the destructive call
        details = {
            "namespace": namespace,
            "vectors_before": self.index.namespace_count(namespace),
            **details,
        }
        common = {"target_type": "namespace", "target_id": namespace}
        self.audit(action, **common, outcome="intent", details=details)
        try:
            existed = self.index.delete_namespace(namespace)
            gone = self.wait_gone(namespace)
        except Exception as exc:
            self.audit(action, **common, outcome="failure", details={**details, "error": str(exc)[:500]})
            raise
        outcome = "success" if gone else "failure"
        self.audit(action, **common, outcome=outcome, details={**details, "existed": existed, "gone": gone})
        if not gone:
            raise RuntimeError(f"{namespace} still lists vectors after its deletion")
