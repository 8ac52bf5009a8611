"""Whoever can write the database can rewrite the chain so that the chain walk finds nothing
wrong. Signed checkpoints, kept outside the database, catch every such rewrite: `audit_verify`
against the checkpoint directory, and `audit_verify --offline` from an export alone, exit non-zero
and name the checkpoint the log contradicts. Runs on SQLite and on PostgreSQL (DATABASE_URL)."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse

from tests.support.audit import (
    TABLE,
    db_restore,
    db_snapshot,
    forge_append,
    log_contents,
    log_rewrite,
    trigger_disabled,
)
from twinadmin.audit.checkpoints import checkpoint_dir, checkpoint_files
from twinadmin.audit.exports import export_jsonl
from twinadmin.audit.keys import public_key_path
from twinadmin.audit.models import AuditEntry
from twinadmin.audit.services import audit_chain_verify, audit_record
from twinadmin.jobs.models import Job
from twinadmin.jobs.services import job_execute

pytestmark = pytest.mark.django_db


def run(command: str, *args: str) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def checkpoint() -> str:
    """Write a checkpoint now; returns its file name."""
    before = set(checkpoint_files())
    run("audit_checkpoint")
    (new,) = set(checkpoint_files()) - before
    return new.name


def append(n: int, actor: str = "op") -> None:
    for i in range(n):
        audit_record(
            actor=actor,
            action="twin.delete.success",
            target_type="twin",
            target_id=f"t{i}",
            outcome="success",
        )


def export(tmp_path: Path) -> Path:
    path = tmp_path / "export.jsonl"
    path.write_text("".join(export_jsonl(AuditEntry.objects.all())))
    return path


def assert_contradicted(name: str, problem: str, tmp_path: Path) -> None:
    """The chain walk alone is fooled; both verifications against the checkpoint are not."""
    assert audit_chain_verify().ok, "the attack should leave a chain the walk accepts"
    with pytest.raises(CommandError) as raised:
        run("audit_verify")
    assert f"{problem}: checkpoint {name} contradicted" in str(raised.value)
    offline = ("--offline", str(export(tmp_path)), "--checkpoint", str(checkpoint_dir() / name))
    with pytest.raises(CommandError) as raised:
        run("audit_verify", *offline, "--public-key", str(public_key_path()))
    assert f"{problem}: checkpoint {name} contradicted" in str(raised.value)


@pytest.fixture
def signed_log(many_entries) -> str:
    run("audit_keygen")
    many_entries(10)
    return checkpoint()


def test_an_untouched_log_is_consistent_with_every_checkpoint(signed_log, tmp_path):
    append(5)
    second = checkpoint()
    out = run("audit_verify")
    assert f"consistent with checkpoint {signed_log} (size 10)" in out
    assert f"consistent with checkpoint {second} (size 15)" in out
    offline = run(
        "audit_verify",
        "--offline",
        str(export(tmp_path)),
        "--checkpoint",
        str(checkpoint_dir() / signed_log),
        "--checkpoint",
        str(checkpoint_dir() / second),
        "--public-key",
        str(public_key_path()),
    )
    assert "export chain intact: 15 entries" in offline and f"checkpoint {second} (size 15)" in offline


def test_edit_and_recompute_is_detected(signed_log, tmp_path):
    contents = log_contents()
    contents[3]["details"] = {"vectors_before": 0}
    log_rewrite(contents)
    assert_contradicted(signed_log, "fork or rewrite", tmp_path)


def test_truncate_and_rebuild_is_detected(signed_log, tmp_path):
    contents = log_contents()
    del contents[2]  # rebuilt without one entry, and one more at the end to keep the size
    contents.append({**contents[-1], "target_id": "t-filler"})
    log_rewrite(contents, truncate=True)
    assert AuditEntry.objects.count() == 10
    assert_contradicted(signed_log, "fork or rewrite", tmp_path)


def test_tail_cut_with_the_head_fixed_is_a_rollback(signed_log, tmp_path):
    log_rewrite(log_contents()[:7])
    assert_contradicted(signed_log, "rollback", tmp_path)


def test_a_forged_approval_inserted_into_history_is_detected(signed_log, tmp_path):
    contents = log_contents()
    forged = {
        **contents[4],
        "actor": "appr",
        "action": "creator.erase.approve",
        "target_type": "request",
        "target_id": "r-1",
        "correlation_id": uuid.uuid4(),
        "details": {},
    }
    log_rewrite([*contents[:5], forged, *contents[5:]])
    assert_contradicted(signed_log, "fork or rewrite", tmp_path)


def test_a_fork_made_only_of_legitimate_writes_is_detected(signed_log, tmp_path):
    """Back up the database, let the app write and checkpoint, restore the backup, let the app
    write again: every link is valid, but history is not the one that was signed."""
    backup = db_snapshot()
    append(3, actor="before-restore")
    signed_after = checkpoint()
    db_restore(backup)
    append(4, actor="after-restore")
    assert AuditEntry.objects.count() == 14
    assert_contradicted(signed_after, "fork or rewrite", tmp_path)
    # The first checkpoint predates the fork and still holds.
    assert f"consistent with checkpoint {signed_log}" in str(_verify_json())


def test_a_restore_without_new_writes_is_a_rollback(signed_log, tmp_path):
    backup = db_snapshot()
    append(3)
    signed_after = checkpoint()
    db_restore(backup)
    assert_contradicted(signed_after, "rollback", tmp_path)


def test_no_checkpoint_is_signed_over_a_forked_log(signed_log):
    contents = log_contents()
    contents[0]["actor"] = "mallory"
    log_rewrite(contents)
    with pytest.raises(CommandError, match=f"not those of checkpoint {signed_log}"):
        run("audit_checkpoint")
    assert len(checkpoint_files()) == 1


def _verify_json() -> list[str]:
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("audit_verify", "--json", stdout=out)
    checkpoints = json.loads(out.getvalue())["checkpoints"]
    return [f"consistent with checkpoint {c['checkpoint']}" for c in checkpoints if c["ok"]]


def test_the_verify_page_names_a_contradicted_checkpoint(signed_log, auditor_client):
    verify = reverse("audit-verify-chain")
    auditor_client.post(verify)
    job_execute(job_id=Job.objects.get(kind="audit_verify").pk)
    body = auditor_client.get(verify).content.decode()
    assert 'id="checkpoint-result" data-ok="true"' in body and "signs 10 entries" in body

    log_rewrite(log_contents()[:7])
    auditor_client.post(verify)
    job_execute(job_id=Job.objects.filter(kind="audit_verify").first().pk)
    body = auditor_client.get(verify).content.decode()
    assert 'id="chain-result" data-ok="true"' in body  # the chain alone is fooled
    assert 'id="checkpoint-result" data-ok="false"' in body and signed_log in body and "rollback" in body


def _forged_approval() -> dict:
    return {
        **log_contents()[-1],
        "actor": "appr",
        "action": "creator.erase.approve",
        "target_type": "request",
        "target_id": "r-9",
        "correlation_id": uuid.uuid4(),
        "details": {},
    }


def test_a_forged_append_after_the_newest_checkpoint_is_detected_and_never_signed(signed_log):
    """At the tail no checkpoint binds it yet, but only a holder of the signing key can write
    an entry's MAC: audit_verify names the forged entry, and no checkpoint will sign it."""
    append(2)
    seq = forge_append(_forged_approval())
    append(1)  # the application goes on writing after it
    assert audit_chain_verify().ok, "the forgery is a valid link of the chain"
    with pytest.raises(CommandError) as raised:
        run("audit_verify")
    assert (
        f"unauthenticated append: checkpoint {signed_log} is followed by forged entries: entries {seq} "
        in str(raised.value)
    )
    with pytest.raises(CommandError, match=f"entries {seq} after checkpoint {signed_log}.*no valid MAC"):
        run("audit_checkpoint")


def test_a_forged_tail_entry_with_another_entrys_mac_is_detected(signed_log):
    genuine = AuditEntry.objects.order_by("-seq").values_list("entry_mac", flat=True).first()
    seq = forge_append(_forged_approval())
    with trigger_disabled(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET entry_mac = %s WHERE seq = %s", [genuine, seq])
    with pytest.raises(CommandError, match=f"forged entries: entries {seq}"):
        run("audit_verify")


def test_history_written_before_the_key_existed_is_signed_by_the_first_checkpoint(many_entries):
    many_entries(4)  # no key yet: these entries carry no MAC
    run("audit_keygen")
    checkpoint()
    append(3)
    checkpoint()
    assert "consistent with checkpoint" in run("audit_verify")
