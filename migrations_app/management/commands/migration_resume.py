"""Continue a failed, cancelled or abandoned run from its checkpoints (in this process unless
--async). Exit status 0 only when the run ends verified and cut over (or rolled back, when it
was rolling back)."""

from __future__ import annotations

import json as jsonlib
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from migrations_app.management.commands._output import finish, get_run, progress_for
from migrations_app.models import NamespaceMigration
from migrations_app.selectors import run_report
from migrations_app.services import MigrationStateError, migration_execute, migration_resume

ACTOR = "cli:migration_resume"


class Command(BaseCommand):
    help = "Resume a namespace migration run from its last checkpoint."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run_id", type=int)
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--async", dest="run_async", action="store_true", help="hand it to the workers")

    def handle(
        self, *args: Any, run_id: int, json: bool = False, run_async: bool = False, **options: Any
    ) -> None:
        try:
            run = migration_resume(run=get_run(run_id), actor=ACTOR, enqueue=run_async)
        except MigrationStateError as exc:
            raise CommandError(str(exc)) from None
        if run_async:
            self.stdout.write(
                jsonlib.dumps(run_report(run), sort_keys=True) if json else f"Run {run.pk} queued."
            )
            return
        rolling_back = run.status == NamespaceMigration.Status.ROLLING_BACK
        progress = progress_for(self, run, as_json=json)
        try:
            run = migration_execute(run_id=run.pk, on_progress=progress)
        finally:
            if progress is not None:
                progress.close()
        ok = NamespaceMigration.Status.ROLLED_BACK if rolling_back else NamespaceMigration.Status.SUCCEEDED
        finish(self, run, ok_status=ok, as_json=json)
