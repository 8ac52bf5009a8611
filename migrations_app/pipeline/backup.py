"""Backup, and the copy with it: each source is read once (list id pages -> fetch in batches) and
every fetched batch, still in memory, becomes a backup row group (with its per-vector digests),
lineage (every id read, with its digest) and - for a copied namespace - an upsert into the target.
Nothing reads the source's values again: verification compares the target with the digests the
backup recorded and re-lists the source's ids (verify.py).

Two pools in a row: fetch + hash, then (on the calling thread, in listing order) the backup
write and the lineage, then the upsert; the checkpoint after it says "the target holds the
listing up to here". The units of namespace k+1 are listed and fetched while namespace k's are
still in flight, so many small namespaces do not pay their round trips one after the other. A
partial backup is never left looking complete: an interrupted pass starts its namespace's
backup again, but writes to the target only from its last checkpoint on."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from migrations_app import backups, conf, storage
from migrations_app.models import MigrationItem, NamespaceBackup
from migrations_app.pipeline.base import (
    ExecutorBase,
    Item,
    Step,
)
from twinadmin.lineage.models import Lineage
from twinadmin.lineage.services import lineage_add, lineage_close

log = logging.getLogger(__name__)


@dataclass
class _Read:
    """One fetched batch on its way through the pass (None: the item's source is fully read)."""

    item: MigrationItem
    batch: backups.Batch | None
    listed_end: int  # ids listed up to and including this batch
    count: int = 0  # vectors backed up so far, this batch included


class BackupPhase(ExecutorBase):
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
                    location=self.backup_location(item).url,
                    dimension=self.index.dimension,
                    metric=self.index.metric,
                )
            todo.append(item)
        writers: dict[int, backups.BackupWriter] = {}
        lineages: dict[int, Lineage] = {}
        resume_from = {item.pk: self.resume_point(item) for item in todo}

        def units() -> Iterator[tuple[MigrationItem, list[str] | None, int]]:
            # (item, listed ids, offset in the listing); (item, None, end) once listed fully.
            for item in todo:
                offset = 0
                for ids in self.id_groups(item.source_namespace):
                    yield item, ids, offset
                    offset += len(ids)
                yield item, None, offset

        def load(unit: tuple[MigrationItem, list[str] | None, int]) -> _Read:
            item, ids, offset = unit
            if ids is None:
                return _Read(item, None, offset)
            found = self.index.fetch(item.source_namespace, ids)
            return _Read(item, backups.hashed([found[i] for i in ids if i in found]), offset + len(ids))

        def recorded(reads: Iterator[_Read]) -> Iterator[_Read]:
            # On the calling thread (the outer map pulls its input here), in listing order: the
            # backup row group and the lineage are written before the batch goes to the target.
            for read in reads:
                item = read.item
                writer = writers.get(item.pk)
                if writer is None:
                    writer = writers[item.pk] = self.open_backup(item, resume_from[item.pk])
                    lineages[item.pk] = self.open_lineage(item, Lineage.Kind.MIGRATION)
                if read.batch is not None:
                    writer.write(read.batch)
                    # Lineage is recorded as the vectors are read, before anything is written
                    # anywhere else: whatever this run copies, erasure can find again.
                    lineage_add(
                        lineage=lineages[item.pk],
                        ids=[v.id for v in read.batch.vectors],
                        digests=read.batch.digests,
                    )
                    read.count = writer.checksum.count
                yield read

        def write(read: _Read) -> _Read:
            item, batch = read.item, read.batch
            # A resumed pass re-reads the source (the backup file cannot be continued) but does
            # not write again what the target already holds: batches that end at or before the
            # last checkpoint. Should the source have changed between the two attempts,
            # verification (target against this backup, id by id) names what differs.
            skipped = read.listed_end <= resume_from[item.pk]
            if batch is not None and batch.vectors and item.action == Item.Action.COPY and not skipped:
                self.index.upsert(item.target_namespace, batch.vectors)
            return read

        try:
            for read in self.map(write, recorded(self.map(load, units()))):
                item = read.item
                if read.batch is None:
                    self.close_backup(item, writers.pop(item.pk))
                    lineage_close(lineage=lineages.pop(item.pk))
                    continue
                done = max(read.count, resume_from[item.pk])
                if item.action == Item.Action.COPY:
                    self.checkpoint(item, done=done, copied=done)
                else:
                    self.checkpoint(item, done=read.count)
        except BaseException:
            for writer in writers.values():
                writer.abort()  # a partial backup is never left looking complete
            raise

    def resume_point(self, item: MigrationItem) -> int:
        """Where the target's writes of an interrupted pass stopped (0: from the start)."""
        if item.action == Item.Action.COPY and item.step == Step.COPYING:
            return item.copied
        return 0

    def backup_location(self, item: MigrationItem) -> storage.Location:
        """Under MIGRATION_BACKUP_URL (a directory or a bucket): every worker host finds it."""
        return storage.root().child(f"run-{self.run.pk}", f"{item.position:03d}-{item.source_namespace}")

    def open_backup(self, item: MigrationItem, resume_from: int = 0) -> backups.BackupWriter:
        # A copied item shows as copying (its backup is written alongside); one deleted after
        # its backup as backing up.
        if item.action == Item.Action.COPY:
            self.start_step(item, Step.COPYING, done=resume_from, total=item.source_count)
        else:
            self.start_step(item, Step.BACKING_UP, done=0, total=item.source_count)
        return backups.BackupWriter(
            item.backup.location,
            namespace=item.source_namespace,
            dimension=self.index.dimension,
            metric=self.index.metric,
            index_name=conf.index_name(),
            extra={"run": self.run.pk, "creator_id": self.run.creator_id, "item": item.pk},
        )

    def close_backup(self, item: MigrationItem, writer: backups.BackupWriter) -> None:
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
        if item.action == Item.Action.COPY:
            # Written to the target in the same pass: the copy phase has nothing left to do.
            self.save(
                item, step=Step.COPIED, total=written.count, copied=written.count, progress_done=written.count
            )
        else:
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
