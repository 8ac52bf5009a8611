"""Cut-over: registry twins in one transaction with the item's record of what the registry held
before, then - only when asked and only after verification - deletion of the source."""

from __future__ import annotations

import logging

from django.db import transaction

from migrations_app.models import MigrationItem
from migrations_app.pipeline.base import (
    EXAMPLES,
    ExecutorBase,
    Item,
    Step,
    VerificationFailed,
)
from twinadmin.registry import codec
from twinadmin.registry.models import Creator
from twinadmin.registry.services import twin_adopt_migrated

log = logging.getLogger(__name__)


class CutoverPhase(ExecutorBase):
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
        if pending:  # the intent's outcome: every item it named is cut over
            self.audit(
                "migration.cutover.finish",
                target_type="run",
                target_id=str(self.run.pk),
                outcome="success",
                details={"count": len(pending)},
            )

    def register_target(self, item: MigrationItem) -> None:
        """Registry rows for the target, in one transaction with the item's record of what the
        registry held before (so a crash leaves both or neither, and rollback can undo it)."""
        if item.twin_created or item.registry_before:
            return  # done by an earlier attempt
        count = int(item.verification.get("target_count", 0))
        with transaction.atomic():
            creator = Creator.objects.select_for_update().get(creator_id=self.run.creator_id)
            if creator.status != Creator.Status.ACTIVE:
                raise RuntimeError(f"creator {creator.creator_id} is {creator.status}; not cut over")
            if item.target_kind != Item.TargetKind.TWIN:
                self.save(item, registry_before={"kind": "creator-wide"})
                twin = None
            else:
                twin, before = twin_adopt_migrated(
                    creator=creator,
                    twin_id=item.twin_id,
                    naming=item.twin_naming,
                    name=item.twin_name,
                    legacy_namespace=item.source_namespace,
                    vector_count=count,
                )
                self.save(item, twin_created=not before["existed"], registry_before=before)
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
