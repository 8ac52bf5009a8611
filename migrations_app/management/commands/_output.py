"""Shared output of the migration commands: the `--json` report or a readable table."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from migrations_app.models import NamespaceMigration
from migrations_app.progress import CommandProgress
from migrations_app.selectors import run_items, run_report
from migrations_app.services import migration_execute


def get_run(run_id: int) -> NamespaceMigration:
    try:
        return NamespaceMigration.objects.get(pk=run_id)
    except NamespaceMigration.DoesNotExist:
        raise CommandError(f"Unknown migration run {run_id}.") from None


def progress_for(command: BaseCommand, run: NamespaceMigration, *, as_json: bool) -> CommandProgress | None:
    """A bar on stderr when it is a terminal; plain step lines otherwise (not with --json)."""
    stream: Any = command.stderr._out  # the real stream, so isatty() tells the truth
    tty = stream.isatty()
    if as_json and not tty:
        return None
    return CommandProgress(stream, items=run.items.count(), tty=tty)


def write_report(command: BaseCommand, run: NamespaceMigration, *, as_json: bool) -> dict[str, Any]:
    items = run_items(run)
    report = run_report(run, items)
    if as_json:
        command.stdout.write(json.dumps(report, sort_keys=True))
        return report
    command.stdout.write(f"Run {run.pk} -> {run.creator_id}: {run.status}, verified={report['verified']}")
    for item, row in zip(items, report["namespaces"], strict=True):
        mark = "ok" if row["verified"] else ("FAILED" if item.verified is False else "-")
        target = row["target"] or "(deleted after backup)"
        command.stdout.write(
            f"  {row['source']:<38} -> {target:<70} "
            f"{row['source_count']:>7} -> {row['target_count']:<7} {mark}"
        )
        if item.verified is False:
            reason = item.verification.get("reason", "")
            examples = item.verification.get("examples", {})
            ids = [i for kind in ("different", "missing", "extra") for i in examples.get(kind, [])][:10]
            command.stdout.write(f"      {reason}; ids: {', '.join(ids)}")
    if run.error:
        command.stdout.write(f"  error: {run.error.splitlines()[0]}")
    return report


def finish(command: BaseCommand, run: NamespaceMigration, *, ok_status: str, as_json: bool) -> None:
    write_report(command, run, as_json=as_json)
    if run.status != ok_status:
        first = (run.error or run.message or run.status).splitlines()[0]
        raise CommandError(f"Run {run.pk} ended {run.status}: {first}")


def execute_here_or_queued(
    command: BaseCommand, run: NamespaceMigration, *, queued: bool, ok_status: str, as_json: bool
) -> None:
    """A queued run (--async) is reported as such; otherwise it runs here, through the same
    phase code a worker runs, with progress, and the command fails unless it ends `ok_status`."""
    if queued:
        command.stdout.write(
            json.dumps(run_report(run), sort_keys=True) if as_json else f"Run {run.pk} queued."
        )
        return
    progress = progress_for(command, run, as_json=as_json)
    try:
        run = migration_execute(run_id=run.pk, on_progress=progress)
    finally:
        if progress is not None:
            progress.close()
    finish(command, run, ok_status=ok_status, as_json=as_json)


def add_run_arguments(parser: CommandParser) -> None:
    parser.add_argument("run_id", type=int)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--async", dest="run_async", action="store_true", help="hand it to the workers")
