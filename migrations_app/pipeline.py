"""The migration engine: one `Executor` runs one phase of one claimed run.

Phases read what to do from the rows and write checkpoints back, so each is idempotent:

- backup:  stream each source (list id pages -> fetch in batches) into a VDF backup;
- copy:    stream the backup's row groups into the target (upserts are idempotent by id), the
           row offset checkpointed after every batch, so a re-run continues where it stopped;
- verify:  the target holds exactly the source's ids with equal per-vector digests, the source
           still matches the backup, and the (lagging) counts agree;
- cutover: registry twins, then - only when asked and only after verification - source deletion;
- rollback: restore deleted sources from verified backups, delete targets, registry back.

Each phase streams the batches of all its namespaces through one small thread pool (HTTP round
trips, SQLite reads, hashing and Parquet decoding overlap; results come back in order, at most
2 x workers batches in flight, so memory is bounded by the batch size, not the namespace size).
Database writes stay on the calling thread. Every checkpoint is a conditional UPDATE on the run's
runner token: a runner that was replaced (resume after a crash) stops there, and a cancel request
takes effect there.
"""

from __future__ import annotations

import ctypes
import logging
import platform
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone

from migrations_app import checksums, conf, vdf
from migrations_app.models import MigrationItem, NamespaceBackup, NamespaceMigration
from twinadmin.audit.services import audit_record
from twinadmin.jobs.models import Job
from twinadmin.lineage.models import Lineage
from twinadmin.lineage.services import lineage_add, lineage_close, lineage_open
from twinadmin.registry import codec
from twinadmin.registry.models import Creator, Twin
from twinadmin.registry.services import twin_create
from twinadmin.vectors import NotFound, VectorIndex

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
Item = MigrationItem
Step = MigrationItem.Step
Phase = NamespaceMigration.Phase
ProgressFn = Callable[[MigrationItem, str, int, int], None]
EXAMPLES = 50  # ids kept per kind of mismatch in a verification report
JOB_SYNC_SECONDS = 1.0


def _load_libc() -> Any:
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


_LIBC = _load_libc()
TRIM_EVERY_BYTES = 32 * 2**20


def release_freed_memory() -> None:
    """Hand freed heap pages back to the OS (glibc malloc_trim). Batches are allocated on pool
    threads, each with its own malloc arena, and without this the process keeps every arena's
    high-water mark: measured at 2 threads, ~100 MB more RSS for a 1536-dimension copy."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


class Fenced(Exception):
    """Another runner owns the run now (it was resumed after this one was presumed dead)."""


class Cancelled(Exception):
    """An operator (or an erasure) asked the run to stop; raised at a checkpoint."""


class VerificationFailed(Exception):
    """Counts, ids, values or metadata differ: nothing is cut over."""


class RollbackRefused(Exception):
    """A rollback precondition does not hold; nothing was written."""


def ordered_map(fn: Callable[[T], R], items: Iterable[T], *, workers: int) -> Iterator[R]:
    """fn over items on `workers` threads, results in input order, at most 2 x workers in
    flight: memory stays bounded however long `items` is."""
    if workers <= 1:
        for item in items:
            yield fn(item)
        return
    pending: deque[Future[R]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="migration") as pool:
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def namespace_count(index: VectorIndex, namespace: str) -> int:
    try:
        return index.describe_namespace(namespace).vector_count
    except NotFound:
        return 0


class Executor:
    def __init__(
        self,
        run: NamespaceMigration,
        runner: str,
        *,
        index: VectorIndex,
        on_progress: ProgressFn | None = None,
    ) -> None:
        self.run = run
        self.runner = runner
        self.index = index
        self.on_progress = on_progress
        self.actor = run.requested_by_name or None
        self.batch = conf.batch_size(index)
        self.workers = conf.concurrency(index)
        self._job_synced = 0.0
        self._since_trim = 0
        self._last_done = 0

    # -- checkpoints ----------------------------------------------------------------------------

    def heartbeat(self) -> None:
        """Prove we still own the run; stop if we were replaced or asked to cancel."""
        now = timezone.now()
        updated = NamespaceMigration.objects.filter(
            pk=self.run.pk, runner=self.runner, cancel_requested=False
        ).update(heartbeat_at=now)
        if updated == 1:
            return
        row = NamespaceMigration.objects.filter(pk=self.run.pk).values("runner", "cancel_requested").first()
        if row is None or row["runner"] != self.runner:
            raise Fenced(f"run {self.run.pk} is now owned by {row and row['runner']!r}")
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
        if self.run.job_id and (force or now - self._job_synced >= JOB_SYNC_SECONDS):
            self._job_synced = now
            Job.objects.filter(pk=self.run.job_id).update(
                status=Job.Status.RUNNING,
                progress_done=done,
                progress_total=total,
                message=f"{step} {item.source_namespace}: {done}/{total}"[:500],
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

    # -- reading namespaces ---------------------------------------------------------------------

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

        yield from ordered_map(load, self.id_groups(namespace), workers=self.workers)

    def namespace_checksum(
        self, namespace: str, item: MigrationItem | None = None
    ) -> checksums.NamespaceChecksum:
        total = checksums.NamespaceChecksum()
        for batch in self.read_namespace(namespace, transform=vdf.hashed):
            total.add_all(batch.digests)
            if item is not None:
                self.checkpoint(item, done=total.count)
        return total

    def poll_counts(self, expected: dict[str, int]) -> dict[str, Any]:
        """Pinecone's counts lag writes and deletes: poll with backoff until they agree with
        what listing found, or the deadline passes. Records what it saw."""
        started = time.monotonic()
        deadline = started + conf.count_deadline_seconds()
        wait, polls, seen = 0.05, 0, {}
        while True:
            polls += 1
            # One request for every namespace of the phase, not two per namespace.
            observed = self.index.describe_index_stats().namespaces
            seen = {name: observed.get(name, 0) for name in expected}
            if seen == expected:
                break
            if time.monotonic() + wait > deadline:
                break
            time.sleep(wait)
            wait = min(wait * 2, 5.0)
            self.heartbeat()
        return {
            "converged": seen == expected,
            "expected": expected,
            "observed": seen,
            "polls": polls,
            "seconds": round(time.monotonic() - started, 3),
        }

    def wait_gone(self, namespace: str) -> bool:
        """After a delete: no ids listed and the count at zero (polled, as counts lag)."""
        deadline = time.monotonic() + conf.count_deadline_seconds()
        wait = 0.05
        while True:
            listed = self.index.list_ids(namespace, limit=1).ids
            if not listed and namespace_count(self.index, namespace) == 0:
                return True
            if time.monotonic() + wait > deadline:
                return False
            time.sleep(wait)
            wait = min(wait * 2, 5.0)

    # -- phases ---------------------------------------------------------------------------------

    def execute(self, phase: str) -> None:
        handlers = {
            Phase.BACKUP: self.backup_phase,
            Phase.COPY: self.copy_phase,
            Phase.VERIFY: self.verify_phase,
            Phase.CUTOVER: self.cutover_phase,
            Phase.ROLLBACK: self.rollback_phase,
        }
        handlers[Phase(phase)]()

    # backup ---------------------------------------------------------------------------------
    #
    # The units of namespace k+1 are listed and fetched while namespace k's are still in flight,
    # so many small namespaces do not pay their round trips one after the other.

    def backup_phase(self) -> None:
        todo = []
        for item in self.items():
            backup = getattr(item, "backup", None)
            if backup is not None and backup.complete and backup.status == NamespaceBackup.Status.AVAILABLE:
                continue
            if backup is not None and backup.status == NamespaceBackup.Status.DELETED:
                raise RuntimeError(
                    f"the backup of {item.source_namespace} was deleted ({backup.deleted_reason})"
                )
            if backup is None:
                item.backup = NamespaceBackup.objects.create(
                    run=self.run,
                    item=item,
                    creator_id=self.run.creator_id,
                    source_namespace=item.source_namespace,
                    path=str(self.backup_path(item)),
                    dimension=self.index.dimension,
                    metric=self.index.metric,
                )
            todo.append(item)
        writers: dict[int, vdf.BackupWriter] = {}
        lineages: dict[int, Lineage] = {}

        def load(unit: tuple[MigrationItem, list[str] | None]) -> tuple[MigrationItem, vdf.Batch | None]:
            item, ids = unit
            if ids is None:
                return item, None
            found = self.index.fetch(item.source_namespace, ids)
            return item, vdf.hashed([found[i] for i in ids if i in found])

        try:
            for item, batch in ordered_map(load, self.source_units(todo), workers=self.workers):
                writer = writers.get(item.pk)
                if writer is None:
                    writer = writers[item.pk] = self.open_backup(item)
                    lineages[item.pk] = self.open_lineage(item, Lineage.Kind.MIGRATION)
                if batch is None:
                    self.close_backup(item, writers.pop(item.pk))
                    lineage_close(lineage=lineages.pop(item.pk))
                    continue
                writer.write(batch)
                # Lineage is recorded as the vectors are read, before anything is written
                # anywhere else: whatever this run copies, erasure can find again.
                lineage_add(
                    lineage=lineages[item.pk], ids=[v.id for v in batch.vectors], digests=batch.digests
                )
                self.checkpoint(item, done=writer.checksum.count)
        except BaseException:
            for writer in writers.values():
                writer.abort()  # a partial backup is never left looking complete
            raise

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

    def backup_path(self, item: MigrationItem) -> Path:
        return conf.backup_dir() / f"run-{self.run.pk}" / f"{item.position:03d}-{item.source_namespace}"

    def open_backup(self, item: MigrationItem) -> vdf.BackupWriter:
        self.start_step(item, Step.BACKING_UP, done=0, total=item.source_count)
        return vdf.BackupWriter(
            Path(item.backup.path),
            namespace=item.source_namespace,
            dimension=self.index.dimension,
            metric=self.index.metric,
            index_name=conf.index_name(),
            extra={"run": self.run.pk, "creator_id": self.run.creator_id, "item": item.pk},
        )

    def close_backup(self, item: MigrationItem, writer: vdf.BackupWriter) -> None:
        written = writer.close()
        now = timezone.now()
        NamespaceBackup.objects.filter(pk=item.backup.pk).update(
            status=NamespaceBackup.Status.AVAILABLE,
            complete=True,
            vector_count=written.count,
            checksum=written.checksum,
            size_bytes=written.size_bytes,
            completed_at=now,
            expires_at=now + timedelta(days=conf.backup_retention_days()),
        )
        item.backup.refresh_from_db()
        self.save(item, step=Step.BACKED_UP, total=written.count, progress_done=written.count)
        self.audit(
            "migration.backup.create",
            target_type="backup",
            target_id=str(item.backup.pk),
            outcome="success",
            details={
                "namespace": item.source_namespace,
                "vectors": written.count,
                "checksum": written.checksum,
                "size_bytes": written.size_bytes,
            },
        )

    # copy -----------------------------------------------------------------------------------

    def copy_phase(self) -> None:
        todo = []
        for item in self.items():
            if item.action != Item.Action.COPY:
                continue
            backup = self.available_backup(item)
            if item.copied >= backup.vector_count and item.step not in (Step.BACKED_UP, Step.COPYING):
                continue
            todo.append(item)

        def units() -> Iterator[tuple[str, MigrationItem, vdf.Batch | None]]:
            for item in todo:
                for batch in vdf.iter_batches(Path(item.backup.path), start=item.copied):
                    yield item.target_namespace, item, batch
                yield item.target_namespace, item, None

        started: set[int] = set()
        for item, end in ordered_map(self.upsert_unit, units(), workers=self.workers):
            if item.pk not in started:
                started.add(item.pk)
                self.start_step(item, Step.COPYING, done=item.copied, total=item.backup.vector_count)
            if end is None:
                total = item.backup.vector_count
                self.save(item, step=Step.COPIED, copied=total, progress_done=total)
            else:
                self.checkpoint(item, done=end, copied=end)

    def upsert_unit(
        self, unit: tuple[str, MigrationItem, vdf.Batch | None]
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

    def available_backup(self, item: MigrationItem) -> NamespaceBackup:
        backup = getattr(item, "backup", None)
        if backup is None or not backup.complete or backup.status != NamespaceBackup.Status.AVAILABLE:
            status = backup.status if backup else "missing"
            raise RuntimeError(f"no usable backup of {item.source_namespace} ({status}); nothing was copied")
        return backup

    # verify ---------------------------------------------------------------------------------

    def verify_phase(self) -> None:
        todo = [item for item in self.items() if not item.verified]
        for item in todo:
            self.available_backup(item)
        started = time.monotonic()
        states = {item.pk: _Comparison(item) for item in todo}
        # Listing is sequential (pagination tokens): the targets' ids are counted on side
        # threads while the sources are listed and compared, not after.
        side = ThreadPoolExecutor(max_workers=2, thread_name_prefix="migration-list")
        target_counts = {
            item.pk: side.submit(self.count_ids, item.target_namespace)
            for item in todo
            if item.action == Item.Action.COPY
        }
        side.shutdown(wait=False)

        for item, rows in ordered_map(self.compare_unit, self.source_units(todo), workers=self.workers):
            state = states[item.pk]
            if not state.started:
                state.started = True
                self.start_step(item, Step.VERIFYING, done=0, total=item.total)
            if rows is None:
                continue
            state.add(rows)
            self.checkpoint(item, done=state.source.count)

        for item in todo:
            state = states[item.pk]
            if item.pk in target_counts:
                state.target_listed = target_counts[item.pk].result()
                if state.target_listed != state.target.count:
                    state.extra_examples, state.extra = self.extra_ids(
                        item.source_namespace, item.target_namespace
                    )
            if self.run.delete_source or item.action == Item.Action.DELETE:
                # The source will go: prove the backup restores exactly.
                state.file_check = vdf.verify_files(Path(item.backup.path))
        expected: dict[str, int] = {}
        for item in todo:
            expected[item.source_namespace] = states[item.pk].source.count
            if item.action == Item.Action.COPY:
                expected[item.target_namespace] = states[item.pk].target_listed
        counts = self.poll_counts(expected)

        failed = []
        for item in todo:
            report = states[item.pk].report(counts, seconds=time.monotonic() - started)
            ok = report["ok"]
            self.save(item, verified=ok, verification=report, step=Step.VERIFIED if ok else Step.FAILED)
            self.audit(
                "migration.verify",
                target_type="namespace",
                target_id=item.target_namespace or item.source_namespace,
                outcome="success" if ok else "failure",
                details={"source": item.source_namespace, **_summary(report)},
            )
            if not ok:
                failed.append(item)
        if failed:
            detail = "; ".join(
                f"{i.source_namespace}: {i.verification.get('reason', '')}" for i in failed[:5]
            )
            raise VerificationFailed(
                f"verification failed for {len(failed)} namespace(s); nothing was cut over. {detail}"
            )

    def count_ids(self, namespace: str) -> int:
        return sum(len(ids) for ids in self.index.iter_id_pages(namespace))

    def compare_unit(
        self, unit: tuple[MigrationItem, list[str] | None]
    ) -> tuple[MigrationItem, list[tuple[str, bytes, bytes | None]] | None]:
        """(id, source digest, target digest or None) for a batch of source ids; a namespace
        that is deleted rather than copied has no target to compare."""
        item, ids = unit
        if ids is None:
            return item, None
        ours = vdf.hashed(list(self.index.fetch(item.source_namespace, ids).values()))
        theirs: dict[str, bytes] = {}
        if item.action == Item.Action.COPY:
            copies = vdf.hashed(list(self.index.fetch(item.target_namespace, ids).values()))
            theirs = {v.id: d for v, d in zip(copies.vectors, copies.digests, strict=True)}
        rows = [(v.id, d, theirs.get(v.id)) for v, d in zip(ours.vectors, ours.digests, strict=True)]
        return item, rows

    def extra_ids(self, source: str, target: str) -> tuple[list[str], int]:
        """Ids in the target that the source does not hold (only looked for when the counts
        say there are some)."""
        examples: list[str] = []
        count = 0
        for ids in self.index.iter_id_pages(target):
            present = self.index.fetch(source, ids)
            for vector_id in ids:
                if vector_id not in present:
                    count += 1
                    if len(examples) < EXAMPLES:
                        examples.append(vector_id)
        return examples, count

    # cut-over -------------------------------------------------------------------------------

    def cutover_phase(self) -> None:
        items = self.items()
        unverified = [i.source_namespace for i in items if not i.verified]
        if unverified:
            raise VerificationFailed(f"not verified, so not cut over: {', '.join(unverified[:10])}")
        pending = [i for i in items if i.step != Step.CUT_OVER]
        if pending:
            self.audit(
                "migration.cutover.start",
                target_type="run",
                target_id=str(self.run.pk),
                outcome="intent",
                details={
                    "count": len(pending),
                    "namespaces": [i.target_namespace or i.source_namespace for i in pending][:EXAMPLES],
                    "sources_to_delete": [
                        i.source_namespace
                        for i in pending
                        if self.run.delete_source or i.action == Item.Action.DELETE
                    ][:EXAMPLES],
                },
            )
        for item in items:
            if item.step == Step.CUT_OVER:
                continue
            self.start_step(item, Step.CUTTING_OVER, done=0, total=1)
            if item.action == Item.Action.COPY:
                self.register_target(item)
                if self.run.delete_source:
                    self.delete_source(item)
            else:
                self.delete_source(item)
            self.save(item, step=Step.CUT_OVER, progress_done=1)

    def register_target(self, item: MigrationItem) -> None:
        """Registry rows for the target, in one transaction with the item's record of what the
        registry held before (so a crash leaves both or neither, and rollback can undo it)."""
        if item.twin_created or item.registry_before:
            return  # done by an earlier attempt
        count = int(item.verification.get("target_count", 0))
        now = timezone.now()
        with transaction.atomic():
            creator = Creator.objects.select_for_update().get(creator_id=self.run.creator_id)
            if creator.status != Creator.Status.ACTIVE:
                raise RuntimeError(f"creator {creator.creator_id} is {creator.status}; not cut over")
            if item.target_kind != Item.TargetKind.TWIN:
                self.save(item, registry_before={"kind": "creator-wide"})
                twin = None
            else:
                twin = Twin.objects.filter(creator=creator, twin_id=item.twin_id).first()
                if twin is None:
                    twin = twin_create(
                        creator=creator,
                        twin_id=item.twin_id,
                        naming=item.twin_naming,
                        name=item.twin_name,
                        legacy_namespace=item.source_namespace,
                    )
                    self.save(item, twin_created=True, registry_before={"existed": False})
                else:
                    before = {
                        "existed": True,
                        "status": twin.status,
                        "legacy_namespace": twin.legacy_namespace,
                        "vector_count": twin.vector_count,
                    }
                    self.save(item, registry_before=before)
                Twin.objects.filter(pk=twin.pk).update(
                    status=Twin.Status.ACTIVE,
                    legacy_namespace=item.source_namespace,
                    vector_count=count,
                    count_observed_at=now,
                )
        self.audit(
            "migration.cutover.register",
            target_type="twin" if twin else "namespace",
            target_id=item.twin_id or item.target_namespace,
            outcome="success",
            details={
                "namespace": item.target_namespace,
                "legacy_namespace": item.source_namespace,
                "vectors": count,
                "registry_before": item.registry_before,
            },
        )

    def delete_source(self, item: MigrationItem) -> None:
        if item.source_deleted:
            return
        source = item.source_namespace
        kind = codec.parse_namespace(source).kind
        if kind not in (codec.NamespaceKind.LEGACY_UUID, codec.NamespaceKind.DEFAULT):
            raise RuntimeError(f"refusing to delete {source}: it is {kind.value}, not a legacy namespace")
        if not item.verified:
            raise VerificationFailed(f"{source} is not verified; it is not deleted")
        self.audited_delete(source, action="migration.source.delete", details={"backup": item.backup.pk})
        self.save(item, source_deleted=True)

    def audited_delete(self, namespace: str, *, action: str, details: dict[str, Any]) -> None:
        """Delete a namespace with an audit entry before and after (counts, outcome), then wait
        until listing and the lagging count both show it gone."""
        self.heartbeat()  # last fence and cancel check before the destructive call
        details = {
            "namespace": namespace,
            "vectors_before": namespace_count(self.index, namespace),
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

    # rollback -------------------------------------------------------------------------------

    def rollback_phase(self) -> None:
        creator = Creator.objects.filter(creator_id=self.run.creator_id).first()
        check_creator_restorable(self.run.creator_id, creator)
        items = [i for i in reversed(self.items()) if i.step != Step.ROLLED_BACK]
        # Everything is checked before anything is written: backups restore exactly, and every
        # target still holds only vectors that came from its backup (nothing written since).
        for item in items:
            if item.source_deleted and not item.restored:
                backup = self.available_backup(item)
                check = vdf.verify_files(Path(backup.path))
                if not check.ok:
                    raise RollbackRefused(
                        f"backup of {item.source_namespace} does not verify: {check.problem}"
                    )
            if item.action == Item.Action.COPY and not item.target_deleted:
                foreign = self.foreign_ids(item)
                if foreign:
                    raise RollbackRefused(
                        f"{item.target_namespace} holds vectors that are not from its backup "
                        f"(written after the copy?): {', '.join(foreign[:10])}; nothing was rolled back"
                    )
        for item in items:
            self.start_step(item, Step.ROLLING_BACK, done=0, total=item.total)
            if item.source_deleted and not item.restored:
                self.restore_source(item)
            if item.action == Item.Action.COPY and not item.target_deleted:
                self.delete_target(item)
            self.registry_back(item)
            self.save(item, step=Step.ROLLED_BACK, active=False)
        if self.run.created_creator and creator is not None and not creator.twins.exists():
            Creator.objects.filter(pk=creator.pk).delete()
            self.audit(
                "migration.rollback.creator",
                target_type="creator",
                target_id=creator.creator_id,
                outcome="success",
                details={"removed": "created by this run, no twins left"},
            )

    def foreign_ids(self, item: MigrationItem) -> list[str]:
        backup = getattr(item, "backup", None)
        known: set[bytes] = set()
        if backup is not None and backup.complete and backup.status == NamespaceBackup.Status.AVAILABLE:
            known.update(vdf.iter_digests(Path(backup.path)))
        foreign = []
        for batch in self.read_namespace(item.target_namespace, transform=vdf.hashed):
            for vector, vector_digest in zip(batch.vectors, batch.digests, strict=True):
                if vector_digest not in known:
                    foreign.append(vector.id)
            if len(foreign) >= EXAMPLES:
                break
        return foreign

    def restore_source(self, item: MigrationItem) -> None:
        backup = self.available_backup(item)
        source = item.source_namespace
        details = {"namespace": source, "backup": backup.pk, "vectors": backup.vector_count}
        self.audit(
            "migration.rollback.restore",
            target_type="namespace",
            target_id=source,
            outcome="intent",
            details=details,
        )

        lineage = self.open_lineage(item, Lineage.Kind.RESTORE)

        def units() -> Iterator[tuple[str, MigrationItem, vdf.Batch | None]]:
            for batch in vdf.iter_batches(Path(backup.path)):
                # Recorded before the batch is written back into the source.
                lineage_add(lineage=lineage, ids=[v.id for v in batch.vectors], digests=batch.digests)
                yield source, item, batch

        for _, end in ordered_map(self.upsert_unit, units(), workers=self.workers):
            self.checkpoint(item, done=end)
        lineage_close(lineage=lineage)
        restored = self.namespace_checksum(source)
        counts = self.poll_counts({source: restored.count})
        ok = restored.hexdigest() == backup.checksum and restored.count == backup.vector_count
        self.audit(
            "migration.rollback.restore",
            target_type="namespace",
            target_id=source,
            outcome="success" if ok else "failure",
            details={**details, "checksum": restored.hexdigest(), "counts": counts["observed"]},
        )
        if not ok:
            raise RuntimeError(f"restored {source} does not match its backup's manifest checksum")
        self.save(item, restored=True, source_deleted=False)

    def delete_target(self, item: MigrationItem) -> None:
        target = item.target_namespace
        if not self.index.list_ids(target, limit=1).ids:
            self.save(item, target_deleted=True)  # never written (the run stopped before copying)
            return
        parsed = codec.parse_namespace(target)
        # Delete only what the parse and the plan both attribute to this run's target.
        expected_twin = item.twin_id if item.target_kind == Item.TargetKind.TWIN else None
        if not parsed.is_owned_by(self.run.creator_id) or parsed.twin_id != expected_twin:
            raise RollbackRefused(f"{target} does not parse as this run's target; not deleted")
        self.audited_delete(
            target,
            action="migration.rollback.delete_target",
            details={"legacy_namespace": item.source_namespace},
        )
        self.save(item, target_deleted=True)

    def registry_back(self, item: MigrationItem) -> None:
        if item.target_kind != Item.TargetKind.TWIN or not (item.twin_created or item.registry_before):
            return
        with transaction.atomic():
            twin = Twin.objects.filter(creator__creator_id=self.run.creator_id, twin_id=item.twin_id).first()
            if twin is not None and item.twin_created:
                twin.delete()
                outcome = "removed"
            elif twin is not None and item.registry_before.get("existed"):
                before = item.registry_before
                Twin.objects.filter(pk=twin.pk).update(
                    status=before["status"],
                    legacy_namespace=before["legacy_namespace"],
                    vector_count=before["vector_count"],
                )
                outcome = "restored"
            else:
                outcome = "absent"
            self.save(item, twin_created=False, registry_before={})
        self.audit(
            "migration.rollback.registry",
            target_type="twin",
            target_id=item.twin_id,
            outcome="success",
            details={"namespace": item.target_namespace, "twin": outcome},
        )


class _Comparison:
    """What verification found for one item so far (accumulated batch by batch)."""

    def __init__(self, item: MigrationItem) -> None:
        self.item = item
        self.started = False
        self.source = checksums.NamespaceChecksum()
        self.target = checksums.NamespaceChecksum()
        self.missing: list[str] = []
        self.different: list[str] = []
        self.n_missing = 0
        self.n_different = 0
        self.target_listed = 0
        self.extra = 0
        self.extra_examples: list[str] = []
        self.file_check: vdf.FileCheck | None = None

    def add(self, rows: list[tuple[str, bytes, bytes | None]]) -> None:
        copy = self.item.action == Item.Action.COPY
        for vector_id, source_digest, target_digest in rows:
            self.source.add(source_digest)
            if not copy:
                continue
            if target_digest is None:
                self.n_missing += 1
                if len(self.missing) < EXAMPLES:
                    self.missing.append(vector_id)
                continue
            self.target.add(target_digest)
            if target_digest != source_digest:
                self.n_different += 1
                if len(self.different) < EXAMPLES:
                    self.different.append(vector_id)

    def report(self, counts: dict[str, Any], *, seconds: float) -> dict[str, Any]:
        item, backup = self.item, self.item.backup
        names = [item.source_namespace] + ([item.target_namespace] if item.target_namespace else [])
        mine = {
            "converged": all(counts["observed"].get(n) == counts["expected"][n] for n in names),
            "expected": {n: counts["expected"][n] for n in names},
            "observed": {n: counts["observed"].get(n) for n in names},
            "polls": counts["polls"],
            "seconds": counts["seconds"],
        }
        reason = ""
        if self.n_missing or self.n_different or self.extra:
            reason = (
                f"{self.n_missing} missing, {self.n_different} different, {self.extra} extra in the target"
            )
        elif self.source.hexdigest() != backup.checksum or self.source.count != backup.vector_count:
            reason = "the source changed after its backup was taken"
        elif self.file_check is not None and not self.file_check.ok:
            reason = f"backup files do not verify: {self.file_check.problem}"
        elif not mine["converged"]:
            reason = f"counts did not agree within the deadline: {mine['observed']} != {mine['expected']}"
        return {
            "ok": not reason,
            "reason": reason,
            "source_count": self.source.count,
            "target_count": self.target_listed,
            "backup_count": backup.vector_count,
            "missing": self.n_missing,
            "different": self.n_different,
            "extra": self.extra,
            "examples": {"missing": self.missing, "different": self.different, "extra": self.extra_examples},
            "source_checksum": self.source.hexdigest(),
            "target_checksum": self.target.hexdigest() if item.target_namespace else "",
            "backup_checksum": backup.checksum,
            "checksum_algorithm": checksums.ALGORITHM,
            "backup_files_ok": None if self.file_check is None else self.file_check.ok,
            "counts": mine,
            "duration_seconds": round(seconds, 3),
        }


def check_creator_restorable(creator_id: str, creator: Creator | None) -> None:
    """Data of an erased creator (or one being erased) is never written back."""
    if creator is None:
        raise RollbackRefused(f"creator {creator_id} is no longer registered; its data is not restored")
    if creator.status != Creator.Status.ACTIVE:
        raise RollbackRefused(f"creator {creator_id} is {creator.status}; its data is never restored")


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    keys = ("source_count", "target_count", "missing", "different", "extra", "source_checksum", "reason")
    summary = {k: report.get(k) for k in keys}
    summary["examples"] = {k: v[:10] for k, v in report.get("examples", {}).items()}
    return summary
