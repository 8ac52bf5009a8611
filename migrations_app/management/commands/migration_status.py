from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from migrations_app.management.commands._output import get_run, write_report


class Command(BaseCommand):
    help = "Show a namespace migration run: status and, per namespace, counts and verification."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("run_id", type=int)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, run_id: int, json: bool = False, **options: Any) -> None:
        write_report(self, get_run(run_id), as_json=json)
