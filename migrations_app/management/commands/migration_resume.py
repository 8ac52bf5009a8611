"""Continue a failed, cancelled or abandoned (worker died) run from its checkpoints, in this
process unless --async. Exit status 0 only when the run ends verified and cut over (or rolled
back, when it was rolling back)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from migrations_app.management.commands._output import add_run_arguments, execute_here_or_queued, get_run
from migrations_app.models import NamespaceMigration
from migrations_app.services import MigrationStateError, migration_resume

Status = NamespaceMigration.Status


class Command(BaseCommand):
    help = "Resume a namespace migration run from its last checkpoint."

    def add_arguments(self, parser: CommandParser) -> None:
        add_run_arguments(parser)

    def handle(self, *args: Any, run_id: int, json: bool, run_async: bool, **options: Any) -> None:
        try:
            run = migration_resume(run=get_run(run_id), actor="cli:migration_resume", enqueue=run_async)
        except MigrationStateError as exc:
            raise CommandError(str(exc)) from None
        ok = Status.ROLLED_BACK if run.status == Status.ROLLING_BACK else Status.SUCCEEDED
        execute_here_or_queued(self, run, queued=run_async, ok_status=ok, as_json=json)
