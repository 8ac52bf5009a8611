"""Undo a run: restore deleted sources from their verified backups, delete the targets, return
the registry to its previous state; refused for an erased creator. In this process unless
--async. Exit status 0 only when the run ends rolled back."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from migrations_app.management.commands._output import add_run_arguments, execute_here_or_queued, get_run
from migrations_app.models import NamespaceMigration
from migrations_app.services import MigrationStateError, migration_rollback


class Command(BaseCommand):
    help = "Roll a namespace migration run back."

    def add_arguments(self, parser: CommandParser) -> None:
        add_run_arguments(parser)

    def handle(self, *args: Any, run_id: int, json: bool, run_async: bool, **options: Any) -> None:
        try:
            run = migration_rollback(run=get_run(run_id), actor="cli:migration_rollback", enqueue=run_async)
        except MigrationStateError as exc:
            raise CommandError(str(exc)) from None
        ok = NamespaceMigration.Status.ROLLED_BACK
        execute_here_or_queued(self, run, queued=run_async, ok_status=ok, as_json=json)
