"""Erasure reaches the namespace-migration side too: a migration of the creator is cancelled
before anything is deleted, every backup file holding their data is removed (and listed on the
receipt with its expiry), and a backup that cannot be removed keeps the request open."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from migrations_app import storage
from migrations_app.models import MigrationItem, NamespaceBackup, NamespaceMigration
from tests.support.erasure import run_job
from twinadmin.audit.models import AuditEntry
from twinadmin.erasure.receipts import erasure_receipt
from twinadmin.erasure.services import erasure_request_approve, erasure_request_file, erasure_request_retry
from twinadmin.jobs.models import Job

pytestmark = pytest.mark.django_db

EXPIRES = timezone.now() + dt.timedelta(days=30)


def _backup(tmp_path, creator_id: str, source: str, status: str, *, run=None, as_file: bool = False):
    run = run or NamespaceMigration.objects.create(creator_id=creator_id, requested_by_name="op")
    item = MigrationItem.objects.create(
        run=run, position=run.items.count() + 1, source_namespace=source, active=False
    )
    path = tmp_path / "backups" / f"{creator_id}-{source}"
    if as_file:  # something the backup service cannot remove as a directory
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not a directory")
    else:
        path.mkdir(parents=True)
        (path / "data.parquet").write_bytes(b"PAR1 vectors of " + creator_id.encode())
    return NamespaceBackup.objects.create(
        run=run,
        item=item,
        creator_id=creator_id,
        source_namespace=source,
        location=storage.location_of(path).url,
        status=status,
        complete=status == "available",
        size_bytes=20,
        checksum="sha256:abc",
        expires_at=EXPIRES,
    )


def _erase(operator, approver):
    erasure = erasure_request_file(creator_id="a.1", reason="DSAR", confirm="a.1", actor=operator)
    erasure_request_approve(erasure=erasure, actor=approver, confirm=erasure.creator_id, enqueue=False)
    erasure.refresh_from_db()
    return erasure, run_job(erasure.job_id)


def test_backups_are_deleted_and_a_queued_migration_is_cancelled_first(
    creator_a1, index, operator, approver, tmp_path
):
    run = NamespaceMigration.objects.create(creator_id="a.1", requested_by_name="op")
    full = _backup(tmp_path, "a.1", "0b5e6c1e-0000-4000-8000-000000000001", "available", run=run)
    partial = _backup(tmp_path, "a.1", "0b5e6c1e-0000-4000-8000-000000000002", "never_restorable", run=run)
    neighbours = _backup(tmp_path, "a.10", "0b5e6c1e-0000-4000-8000-000000000003", "available")

    erasure, job = _erase(operator, approver)

    assert job.status == Job.Status.SUCCEEDED, job.error
    run.refresh_from_db()
    assert run.status == NamespaceMigration.Status.CANCELLED
    for backup in (full, partial):
        backup.refresh_from_db()
        assert backup.status == "deleted"
        assert not (tmp_path / "backups" / f"a.1-{backup.source_namespace}").exists()
    neighbours.refresh_from_db()
    assert (
        neighbours.status == "available"
        and (tmp_path / "backups").joinpath(f"a.10-{neighbours.source_namespace}", "data.parquet").exists()
    )

    receipt = erasure_receipt(erasure)
    assert {b["backup"]: (b["status_before"], b["action"]) for b in receipt["backups"]} == {
        str(full.pk): ("available", "deleted"),
        str(partial.pk): ("never_restorable", "deleted"),
    }
    assert all(b["expires_at"] == EXPIRES.isoformat() for b in receipt["backups"])
    cancel = AuditEntry.objects.get(action="migration.run.cancel")
    start = AuditEntry.objects.get(action="creator.erase.start")
    first_delete = AuditEntry.objects.filter(action="migration.backup.delete").order_by("seq").first()
    assert cancel.seq < start.seq < first_delete.seq
    assert first_delete.actor == "appr"
    # An auditor following the erasure's correlation id sees its backup deletions too.
    deletes = AuditEntry.objects.filter(action="migration.backup.delete")
    assert deletes.count() == 4  # intent and success for each of the two backups
    assert set(deletes.values_list("correlation_id", flat=True)) == {start.correlation_id}


def test_a_backup_that_cannot_be_removed_keeps_the_request_open(
    creator_a1, index, operator, approver, tmp_path, capsys
):
    stuck = _backup(tmp_path, "a.1", "0b5e6c1e-0000-4000-8000-000000000004", "available", as_file=True)

    erasure, job = _erase(operator, approver)

    assert job.status == Job.Status.FAILED
    erasure.refresh_from_db()
    assert erasure.status == "failed" and f"backup(s) not deleted: {stuck.pk}" in erasure.last_error
    assert erasure.backups.get().action == "failed"
    with pytest.raises(SystemExit):
        call_command("verify_deletion", "a.1", "--json")
    assert json.loads(capsys.readouterr().out)["backups_remaining"] == [str(stuck.pk)]

    (tmp_path / "backups" / f"a.1-{stuck.source_namespace}").unlink()  # an operator clears it up
    (tmp_path / "backups" / f"a.1-{stuck.source_namespace}").mkdir()
    erasure_request_retry(erasure=erasure, actor=operator, enqueue=False)
    erasure.refresh_from_db()
    assert run_job(erasure.job_id).status == Job.Status.SUCCEEDED
    erasure.refresh_from_db()
    assert erasure.status == "completed"
    backup = erasure.backups.get()
    assert (backup.status_before, backup.action, backup.error) == ("available", "deleted", "")
