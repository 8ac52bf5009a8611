"""Copy: stream the backup's row groups into the target (upserts are idempotent by id), the row
offset checkpointed after every batch, so a re-run continues where it stopped.

The backup phase copies as it reads (backup.py), so for its items this phase has nothing left;
it still finishes an item whose backup completed without the copy being recorded (a crash
between the two), and runs whose backups were taken before the copy moved into that pass."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from migrations_app import backups
from migrations_app.models import MigrationItem
from migrations_app.pipeline.base import (
    ExecutorBase,
    Item,
    Step,
)

log = logging.getLogger(__name__)


class CopyPhase(ExecutorBase):
    def copy_phase(self) -> None:
        todo = []
        for item in self.items():
            if item.action != Item.Action.COPY:
                continue
            backup = self.available_backup(item)
            if item.copied >= backup.vector_count and item.step not in (Step.BACKED_UP, Step.COPYING):
                continue
            todo.append(item)

        def units() -> Iterator[tuple[str, MigrationItem, backups.Batch | None]]:
            for item in todo:
                for batch in backups.iter_batches(item.backup.location, start=item.copied):
                    yield item.target_namespace, item, batch
                yield item.target_namespace, item, None

        started: set[int] = set()
        for item, end in self.map(self.upsert_unit, units()):
            if item.pk not in started:
                started.add(item.pk)
                self.start_step(item, Step.COPYING, done=item.copied, total=item.backup.vector_count)
            if end is None:
                total = item.backup.vector_count
                self.save(item, step=Step.COPIED, copied=total, progress_done=total)
            else:
                self.checkpoint(item, done=end, copied=end)
