"""Backup: stream each source (list id pages -> fetch in batches) into a VDF backup, recording
lineage (every id read, with its digest) as it goes. The units of namespace k+1 are listed and
fetched while namespace k's are still in flight, so many small namespaces do not pay their round
trips one after the other. A partial backup is never left looking complete."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from migrations_app import backups, conf
from migrations_app.models import MigrationItem, NamespaceBackup
from migrations_app.pipeline.base import (
    ExecutorBase,
    Step,
    ordered_map,
)
from twinadmin.lineage.models import Lineage
from twinadmin.lineage.services import lineage_add, lineage_close

log = logging.getLogger(__name__)


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
                    path=str(self.backup_path(item)),
                    dimension=self.index.dimension,
                    metric=self.index.metric,
                )
            todo.append(item)
        writers: dict[int, backups.BackupWriter] = {}
        lineages: dict[int, Lineage] = {}

        def load(unit: tuple[MigrationItem, list[str] | None]) -> tuple[MigrationItem, backups.Batch | None]:
            item, ids = unit
            if ids is None:
                return item, None
            found = self.index.fetch(item.source_namespace, ids)
            return item, backups.hashed([found[i] for i in ids if i in found])

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

    def backup_path(self, item: MigrationItem) -> Path:
        return conf.backup_dir() / f"run-{self.run.pk}" / f"{item.position:03d}-{item.source_namespace}"

    def open_backup(self, item: MigrationItem) -> backups.BackupWriter:
        self.start_step(item, Step.BACKING_UP, done=0, total=item.source_count)
        return backups.BackupWriter(
            Path(item.backup.path),
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
