"""The migration engine: one `Executor` runs one phase of one claimed run."""

from __future__ import annotations

from migrations_app.models import NamespaceMigration
from migrations_app.pipeline.backup import BackupPhase
from migrations_app.pipeline.copy import CopyPhase
from migrations_app.pipeline.cutover import CutoverPhase
from migrations_app.pipeline.rollback import RollbackPhase
from migrations_app.pipeline.verify import VerifyPhase

Phase = NamespaceMigration.Phase


class Executor(BackupPhase, CopyPhase, VerifyPhase, CutoverPhase, RollbackPhase):
    def execute(self, phase: str) -> None:
        handlers = {
            Phase.BACKUP: self.backup_phase,
            Phase.COPY: self.copy_phase,
            Phase.VERIFY: self.verify_phase,
            Phase.CUTOVER: self.cutover_phase,
            Phase.ROLLBACK: self.rollback_phase,
        }
        handlers[Phase(phase)]()
