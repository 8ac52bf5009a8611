"""The shell side: delete_creator (shell access counts as approval), verify_deletion (exit 0 only
when nothing of the creator remains) and cleanup --all --yes (everything, audited)."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.support.erasure import NEIGHBOURS
from tests.support.vectors import counts_of, fill
from twinadmin.audit.models import AuditEntry
from twinadmin.erasure.models import ErasureRequest
from twinadmin.erasure.services import erasure_request_file
from twinadmin.registry.models import Creator, IndexNamespace, Twin

pytestmark = pytest.mark.django_db


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_delete_creator_erases_in_process_audited_as_cli(creator_a1, index, capsys):
    call_command("delete_creator", "a.1", "--reason", "DSAR by mail", "--ticket", "T-9", "--json")

    out = _json(capsys)
    erasure = ErasureRequest.objects.get()
    assert out | {"request": 0, "job": 0} == {
        "request": 0,
        "job": 0,
        "creator_id": "a.1",
        "status": "completed",
        "namespaces": 4,
        "deleted": 4,
        "not_found": 0,
        "failed": 0,
        "lineage_sources": 0,
        "verified": True,
        "receipt": f"/erasure/requests/{erasure.pk}/receipt.json",
    }
    assert counts_of(index) == NEIGHBOURS
    assert (erasure.requested_by_name, erasure.approved_by_name, erasure.executor) == (
        "cli:delete_creator",
        "cli:delete_creator",
        "cli:delete_creator",
    )
    actors = set(
        AuditEntry.objects.filter(action__startswith="creator.erase").values_list("actor", flat=True)
    )
    assert actors == {"cli:delete_creator"}


def test_delete_creator_carries_on_with_an_open_request(creator_a1, index, operator, capsys):
    pending = erasure_request_file(creator_id="a.1", reason="web request", confirm="a.1", actor=operator)

    call_command("delete_creator", "a.1", "--reason", "approved by shell", "--json")

    assert _json(capsys)["request"] == pending.pk
    pending.refresh_from_db()
    assert pending.status == "completed" and pending.approved_by_name == "cli:delete_creator"
    assert pending.requested_by_name == "op"


def test_delete_creator_refuses_bad_input_and_changes_nothing(creator_a1, index):
    before = counts_of(index)
    with pytest.raises(CommandError, match="Unknown creator"):
        call_command("delete_creator", "zz.1", "--reason", "x")
    with pytest.raises(CommandError, match="Invalid creator id"):
        call_command("delete_creator", "A_1", "--reason", "x")
    with pytest.raises(CommandError, match="reason"):
        call_command("delete_creator", "a.1", "--reason", " ")
    assert counts_of(index) == before and not ErasureRequest.objects.exists()


def test_delete_creator_again_re_verifies_and_succeeds(creator_a1, index, capsys):
    call_command("delete_creator", "a.1", "--reason", "first")
    capsys.readouterr()
    call_command("delete_creator", "a.1", "--reason", "again", "--json")
    out = _json(capsys)
    # The orphan is gone from the index, so only the registry's namespaces are checked again.
    assert (out["status"], out["namespaces"], out["not_found"]) == ("completed", 3, 3)
    assert Creator.objects.get(creator_id="a.1").status == "erased"


def test_verify_deletion_fails_while_data_remains_and_lists_it(creator_a1, index, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command("verify_deletion", "a.1", "--json")
    assert exit_info.value.code == 1
    report = _json(capsys)
    assert report["clean"] is False
    assert {n["namespace"]: n["vector_count"] for n in report["namespaces"]} == {
        "creator_a.1": 4,
        "creator_a.1_twin_t1": 3,
        "creator_a.1_twin_t2": 2,
        "creator_a.1_twin_orphan-9": 5,
    }


def test_verify_deletion_exits_0_once_nothing_remains(creator_a1, index, capsys):
    call_command("delete_creator", "a.1", "--reason", "x")
    capsys.readouterr()
    call_command("verify_deletion", "a.1", "--json")  # no SystemExit: exit status 0
    assert _json(capsys) | {"checked_at": None} == {
        "creator_id": "a.1",
        "clean": True,
        "namespaces": [],
        "lineage_sources": [],
        "backups_remaining": [],
        "checked_at": None,
    }
    # Neighbours still hold data, and it says so for them.
    with pytest.raises(SystemExit):
        call_command("verify_deletion", "a.10")


def test_verify_deletion_refuses_a_malformed_id(db, index):
    with pytest.raises(CommandError, match="Invalid creator id"):
        call_command("verify_deletion", "not_valid")


@pytest.mark.parametrize("flags", [[], ["--all"], ["--yes"]])
def test_cleanup_refuses_without_both_flags(creator_a1, index, flags):
    before = counts_of(index)
    with pytest.raises(CommandError, match="--all and --yes"):
        call_command("cleanup", *flags)
    assert counts_of(index) == before and Creator.objects.count() == 4
    assert not AuditEntry.objects.filter(action__startswith="index.cleanup").exists()


def test_cleanup_all_yes_empties_index_and_registry_audited(creator_a1, index, capsys):
    from twinadmin.registry.services import index_refresh

    index_refresh()
    assert IndexNamespace.objects.exists()

    call_command("cleanup", "--all", "--yes", "--json")

    out = _json(capsys)
    assert out["verified"] is True and out["after"] == {"vectors": 0, "namespaces": 0}
    assert out["namespaces_deleted"] == 11
    assert counts_of(index) == {}
    assert not (Creator.objects.exists() or Twin.objects.exists() or IndexNamespace.objects.exists())
    trail = AuditEntry.objects.filter(action__startswith="index.cleanup").order_by("seq")
    assert [(e.action, e.outcome, e.actor) for e in trail] == [
        ("index.cleanup.start", "intent", "cli:cleanup"),
        ("index.cleanup.finish", "success", "cli:cleanup"),
    ]
    assert trail[0].details["vectors"] == sum(counts for counts in [4, 3, 2, 5, *NEIGHBOURS.values()])
    assert trail[0].correlation_id == trail[1].correlation_id
    # Erasure records outlive the registry rows they name.
    fill(index, {"creator_x.1": 1})
    call_command("cleanup", "--all", "--yes")
    assert counts_of(index) == {}
