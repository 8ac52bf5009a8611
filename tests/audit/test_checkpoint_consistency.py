"""Each checkpoint carries the RFC 9162 consistency proof that its tree extends the previous
one's, so a set of checkpoint files can be checked against each other with no log at all
(`audit_verify --checkpoints-only`); a split view (two histories signed for one size) and a
bent proof are named."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.support.audit import db_restore, db_snapshot
from twinadmin.audit.checkpoints import (
    checkpoint_consistent,
    checkpoint_dir,
    checkpoint_files,
    checkpoint_read,
)
from twinadmin.audit.keys import public_key_load, public_key_path
from twinadmin.audit.services import audit_record

pytestmark = pytest.mark.django_db


def append(n: int, actor: str = "op") -> None:
    for i in range(n):
        audit_record(actor=actor, action="twin.create", target_type="twin", target_id=f"t{i}")


def checkpoint() -> None:
    call_command("audit_checkpoint", stdout=io.StringIO())


def checkpoints_only(*files) -> str:
    out = io.StringIO()
    args = [a for f in files for a in ("--checkpoint", str(f))]
    call_command(
        "audit_verify", "--checkpoints-only", *args, "--public-key", str(public_key_path()), stdout=out
    )
    return out.getvalue()


@pytest.fixture
def keyed(db):
    call_command("audit_keygen", stdout=io.StringIO(), stderr=io.StringIO())


def test_each_checkpoint_proves_it_extends_the_one_before(keyed):
    for n in (10, 5, 1, 0, 17):
        append(n)
        checkpoint()
    key = public_key_load()
    loaded = [checkpoint_read(p, key) for p in checkpoint_files()]
    assert [c.tree_size for c in loaded] == [10, 15, 16, 16, 33]
    assert loaded[0].consistency is None
    assert all(checkpoint_consistent(c) for c in loaded[1:])
    assert (
        loaded[4].consistency["from_size"] == 16 and loaded[4].consistency["from_root"] == loaded[3].root_hash
    )
    out = checkpoints_only(*checkpoint_files())
    assert out.count("consistent with checkpoint") == 5


def test_a_split_view_between_checkpoints_is_named(keyed, tmp_path, settings):
    """A second host, pointed at a restored copy of the database and writing checkpoints
    elsewhere, signs another history of the same size: the two sets together expose it."""
    append(10)
    checkpoint()
    backup = db_snapshot()
    append(3, actor="here")
    checkpoint()
    honest = set(checkpoint_files())
    db_restore(backup)
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "other-host"
    settings.AUDIT_CHECKPOINT_DIR.mkdir()
    shutil.copy(min(honest), settings.AUDIT_CHECKPOINT_DIR)  # the other host knew the first one
    append(3, actor="there")
    checkpoint()
    (forked,) = set(checkpoint_files()) - {settings.AUDIT_CHECKPOINT_DIR / p.name for p in honest}
    with pytest.raises(
        CommandError, match=f"fork or rewrite: checkpoint {forked.name} contradicted.*another root"
    ):
        checkpoints_only(*honest, forked)


def test_a_bent_consistency_proof_is_named(keyed, tmp_path):
    append(10)
    checkpoint()
    append(4)
    checkpoint()
    first, second = checkpoint_files()
    document = json.loads(second.read_text())
    document["consistency"]["proof"][0] = "00" * 32
    bent = tmp_path / second.name
    bent.write_text(json.dumps(document))
    with pytest.raises(CommandError, match=f"checkpoint {second.name} contradicted: its consistency proof"):
        checkpoints_only(first, bent)


@pytest.mark.parametrize("content", [b"", b"{}", b"[]", b'{"checkpoint": {}, "signature": "x"}', b"\xff"])
def test_a_garbage_checkpoint_file_is_named_not_a_crash(keyed, content):
    append(2)
    checkpoint()
    (checkpoint_dir() / "checkpoint-garbage.json").write_bytes(content)
    with pytest.raises(
        CommandError, match="invalid checkpoint: checkpoint checkpoint-garbage.json is unusable"
    ):
        call_command("audit_verify", stdout=io.StringIO(), stderr=io.StringIO())


def test_a_checkpoint_signed_by_another_key_is_invalid(keyed, tmp_path, settings):
    append(2)
    published = tmp_path / "published.pem"
    published.write_bytes(public_key_path().read_bytes())
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "other" / "key.pem"
    call_command("audit_keygen", stdout=io.StringIO(), stderr=io.StringIO())
    checkpoint()
    with pytest.raises(CommandError, match="signature is not valid for this public key"):
        call_command(
            "audit_verify", "--checkpoints-only", "--public-key", str(published), stdout=io.StringIO()
        )
