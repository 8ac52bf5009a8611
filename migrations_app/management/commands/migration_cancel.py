"""Cancel a run: at once when it is queued or failed, otherwise the worker stops at its next
checkpoint (after the batch in flight). The page's Cancel button, by command."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from migrations_app.management.commands._output import get_run, write_report
from migrations_app.services import MigrationStateError, migration_cancel


class Command(BaseCommand):
    help = "Cancel a namespace migration run (a running copy stops at its next checkpoint)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run_id", type=int)
        parser.add_argument("--reason", required=True, help="why (recorded in the audit log)")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, run_id: int, reason: str, json: bool, **options: Any) -> None:
        if not reason.strip():
            raise CommandError("Give a reason (--reason): it is recorded in the audit log.")
        try:
            run = migration_cancel(run=get_run(run_id), actor="cli:migration_cancel", reason=reason)
        except MigrationStateError as exc:
            raise CommandError(str(exc)) from None
        write_report(self, run, as_json=json)
