"""Commands: exit status 0 only on success, `--json` in the issue's shape, a progress bar on a
terminal."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from migrations_app.models import NamespaceMigration
from migrations_app.progress import CommandProgress
from migrations_app.services import migration_cancel, migration_create
from tests.migrations_app.helpers import legacy_sources
from tests.support.seed import CREATOR

pytestmark = pytest.mark.django_db


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_status_prints_the_json_shape(seeded, capsys):
    call_command("map_to_test_creator", CREATOR, "--json", "--namespaces", *legacy_sources(seeded)[:2])
    run_id = _json(capsys)["run"]

    call_command("migration_status", str(run_id), "--json")

    report = _json(capsys)
    assert set(report) == {"run", "status", "verified", "namespaces"}
    assert (report["run"], report["status"], report["verified"]) == (run_id, "succeeded", True)
    assert set(report["namespaces"][0]) == {"source", "target", "source_count", "target_count", "verified"}


def test_status_of_an_unknown_run_fails(db):
    with pytest.raises(CommandError, match="Unknown migration run 999"):
        call_command("migration_status", "999")


def test_resume_continues_a_cancelled_run_and_refuses_a_finished_one(seeded, creator, capsys):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    migration_cancel(run=run, actor="cli:test")

    call_command("migration_resume", str(run.pk), "--json")

    assert _json(capsys)["status"] == "succeeded"
    with pytest.raises(CommandError, match="succeeded; there is nothing to resume"):
        call_command("migration_resume", str(run.pk))


def test_async_returns_the_queued_run(seeded, capsys):
    call_command("map_to_test_creator", CREATOR, "--json", "--async")
    report = _json(capsys)
    assert report["status"] == "queued"
    assert NamespaceMigration.objects.get(pk=report["run"]).status == "queued"


def test_text_output_names_namespaces_and_verification(seeded, capsys):
    call_command("map_to_test_creator", CREATOR, "--namespaces", legacy_sources(seeded)[0])
    out = capsys.readouterr().out
    assert "succeeded, verified=True" in out and f"creator_{CREATOR}_twin_" in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_and_lines_otherwise(seeded, creator):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])
    item = run.items.get()
    terminal, pipe = _Terminal(), io.StringIO()
    bar, lines = CommandProgress(terminal, items=1), CommandProgress(pipe, items=1)

    for progress in (bar, lines):
        progress(item, "copying", 0, 40)
        progress(item, "copying", 40, 40)
        progress.close()

    assert "\r" in terminal.getvalue() and "100%" in terminal.getvalue() and "40/40" in terminal.getvalue()
    assert pipe.getvalue() == f"copying 1/1 {item.source_namespace}\n"


def test_cancel_by_command_like_the_button(seeded, creator, capsys):
    run = migration_create(actor="cli:test", creator_id=CREATOR, namespaces=legacy_sources(seeded)[:1])

    call_command("migration_cancel", str(run.pk), "--reason", "wrong creator", "--json")

    assert _json(capsys)["status"] == "cancelled"
    with pytest.raises(CommandError, match="nothing to cancel"):
        call_command("migration_cancel", str(run.pk), "--reason", "again")
