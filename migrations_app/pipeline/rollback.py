"""Rollback: everything is checked first (backups verify, targets hold only what came from
them), then deleted sources are restored (recorded as lineage), targets deleted and the registry
put back. Data of an erased creator, or one being erased, is never written back."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from django.db import transaction

from migrations_app import backups
from migrations_app.models import MigrationItem, NamespaceBackup
from migrations_app.pipeline.base import (
    EXAMPLES,
    ExecutorBase,
    Item,
    RollbackRefused,
    Step,
)
from twinadmin.lineage.models import Lineage
from twinadmin.lineage.services import lineage_add, lineage_close
from twinadmin.registry import codec
from twinadmin.registry.models import Creator
from twinadmin.registry.services import creator_remove_unused, twin_restore

log = logging.getLogger(__name__)


class RollbackPhase(ExecutorBase):
    def rollback_phase(self) -> None:
        creator = Creator.objects.filter(creator_id=self.run.creator_id).first()
        check_creator_restorable(self.run.creator_id, creator)
        items = [i for i in reversed(self.items()) if i.step != Step.ROLLED_BACK]
        # Everything is checked before anything is written: backups restore exactly, and every
        # target still holds only vectors that came from its backup (nothing written since).
        for item in items:
            if item.source_deleted and not item.restored:
                backup = self.available_backup(item)
                check = backups.verify_files(backup.location)
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
        if self.run.created_creator and creator is not None:
            self.creator_back(creator)

    def creator_back(self, creator: Creator) -> None:
        """The run registered the creator: remove it again, and with it the attribution this
        run made (its lineage), so that everything is as before the run. Kept while another
        run's lineage still attributes copies to it: erasing it must still find those."""
        others = Lineage.objects.filter(creator_id=creator.creator_id).exclude(run=self.run)
        outcome: dict[str, Any]
        if others.exists():
            outcome = {"kept": "another run's lineage attributes copied vectors to it"}
        else:
            with transaction.atomic():
                if not creator_remove_unused(creator_id=creator.creator_id):
                    return
                dropped = Lineage.objects.filter(creator_id=creator.creator_id, run=self.run).delete()[0]
            outcome = {"removed": "created by this run, no twins left", "lineage_rows_dropped": dropped}
        self.audit(
            "migration.rollback.creator",
            target_type="creator",
            target_id=creator.creator_id,
            outcome="success",
            details=outcome,
        )

    def foreign_ids(self, item: MigrationItem) -> list[str]:
        backup = getattr(item, "backup", None)
        known: set[bytes] = set()
        if backup is not None and backup.complete and backup.status == NamespaceBackup.Status.AVAILABLE:
            known.update(backups.iter_digests(backup.location))
        foreign = []
        for batch in self.read_namespace(item.target_namespace, transform=backups.hashed):
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

        def units() -> Iterator[tuple[str, MigrationItem, backups.Batch | None]]:
            for batch in backups.iter_batches(backup.location):
                # Recorded before the batch is written back into the source.
                lineage_add(lineage=lineage, ids=[v.id for v in batch.vectors], digests=batch.digests)
                yield source, item, batch

        for _, end in self.map(self.upsert_unit, units()):
            if end is not None:  # every unit here is a batch
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
            outcome = twin_restore(
                creator_id=self.run.creator_id, twin_id=item.twin_id, before=item.registry_before
            )
            self.save(item, twin_created=False, registry_before={})
        self.audit(
            "migration.rollback.registry",
            target_type="twin",
            target_id=item.twin_id,
            outcome="success",
            details={"namespace": item.target_namespace, "twin": outcome},
        )


def check_creator_restorable(creator_id: str, creator: Creator | None) -> None:
    """Data of an erased creator (or one being erased) is never written back."""
    if creator is None:
        raise RollbackRefused(f"creator {creator_id} is no longer registered; its data is not restored")
    if creator.status != Creator.Status.ACTIVE:
        raise RollbackRefused(f"creator {creator_id} is {creator.status}; its data is never restored")
