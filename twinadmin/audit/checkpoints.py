"""Signed checkpoints of the audit log, kept as files outside the database.

A checkpoint says "the log had `tree_size` entries and its RFC 9162 Merkle root was
`root_hash` at `time`", signed with the audit key (twinadmin.audit.keys). One file each, in
AUDIT_CHECKPOINT_DIR (in production a separate volume or bucket the database's administrators
cannot write), named by size and time and created with O_EXCL: a checkpoint never replaces
another. The file is the JSON document

    {"checkpoint": {"origin", "tree_size", "root_hash", "time", "key_id"}, "signature": base64}

with the signature over CHECKPOINT_CONTEXT + canonical JSON of "checkpoint", and, from the second
on, "consistency": the RFC 9162 consistency proof that its tree extends the previous
checkpoint's. Nothing else is needed to check one: the public key, and for the root the entries
(or an inclusion proof); a set of checkpoints is checked against each other with no log at all.
"""

from __future__ import annotations

import hmac
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from twinadmin.audit import merkle
from twinadmin.audit.chain import HASHED_FIELDS, entry_digests, format_at
from twinadmin.audit.keys import (
    CHECKPOINT_CONTEXT,
    entry_mac,
    entry_mac_key,
    key_id,
    sign,
    signature_valid,
    signing_key,
)
from twinadmin.audit.models import AuditEntry, AuditHead

ORIGIN = "twinadmin-audit"
FILE_GLOB = "checkpoint-*.json"
HEX64 = frozenset("0123456789abcdef")


class CheckpointError(Exception):
    """A checkpoint file is unreadable, malformed or not signed by the key."""


class CheckpointRefused(Exception):
    """The log in the database contradicts the newest checkpoint: signing it would bless a
    fork or a rollback. Run `audit_verify`."""


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root_hash: str
    time: str
    key_id: str
    signature: str
    name: str = ""
    # RFC 9162 consistency proof from the checkpoint before it (unsigned: it is checked against
    # the two signed roots): {"from_size", "from_root", "proof": [hex, ...]}.
    consistency: dict[str, Any] | None = None

    def body(self) -> dict[str, Any]:
        return {
            "origin": ORIGIN,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "time": self.time,
            "key_id": self.key_id,
        }

    def document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"checkpoint": self.body(), "signature": self.signature}
        if self.consistency is not None:
            document["consistency"] = self.consistency
        return document

    def __str__(self) -> str:
        return f"checkpoint {self.name or '(inline)'} (size {self.tree_size}, {self.time})"


def checkpoint_dir() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_DIR)


def checkpoint_parse(document: Any, public_key: Ed25519PublicKey, *, name: str = "") -> Checkpoint:
    """A checkpoint document, its shape and signature checked; CheckpointError otherwise."""
    body = document.get("checkpoint") if isinstance(document, dict) else None
    if not isinstance(document, dict) or not set(document) <= {"checkpoint", "signature", "consistency"}:
        raise CheckpointError(f"{name or 'checkpoint'}: not a checkpoint document")
    if not isinstance(body, dict) or set(body) != {"origin", "tree_size", "root_hash", "time", "key_id"}:
        raise CheckpointError(f"{name or 'checkpoint'}: not a checkpoint document")
    size, root = body["tree_size"], body["root_hash"]
    if body["origin"] != ORIGIN or not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise CheckpointError(f"{name or 'checkpoint'}: bad origin or tree size")
    if not (isinstance(root, str) and len(root) == 64 and set(root) <= HEX64):
        raise CheckpointError(f"{name or 'checkpoint'}: root_hash is not 64 hex digits")
    if not isinstance(body["time"], str) or not isinstance(body["key_id"], str):
        raise CheckpointError(f"{name or 'checkpoint'}: bad time or key id")
    consistency = _consistency_parse(document.get("consistency"), name)
    checkpoint = Checkpoint(
        size, root, body["time"], body["key_id"], document.get("signature", ""), name, consistency
    )
    if not signature_valid(public_key, CHECKPOINT_CONTEXT, checkpoint.body(), checkpoint.signature):
        raise CheckpointError(f"{checkpoint}: signature is not valid for this public key")
    return checkpoint


def _consistency_parse(value: Any, name: str) -> dict[str, Any] | None:
    if value is None:
        return None
    ok = (
        isinstance(value, dict)
        and set(value) == {"from_size", "from_root", "proof"}
        and isinstance(value["from_size"], int)
        and isinstance(value["from_root"], str)
        and isinstance(value["proof"], list)
        and all(
            isinstance(h, str) and len(h) == 64 and set(h) <= HEX64
            for h in [value["from_root"], *value["proof"]]
        )
    )
    if not ok:
        raise CheckpointError(f"{name or 'checkpoint'}: malformed consistency proof")
    return value


def checkpoint_consistent(checkpoint: Checkpoint) -> bool | None:
    """Whether its consistency proof shows that its tree extends the tree of `from_size` leaves
    with root `from_root` (RFC 9162 §2.1.4.2); None when it carries none."""
    c = checkpoint.consistency
    if c is None:
        return None
    return merkle.verify_consistency(
        first=c["from_size"],
        second=checkpoint.tree_size,
        first_root=bytes.fromhex(c["from_root"]),
        second_root=bytes.fromhex(checkpoint.root_hash),
        proof=[bytes.fromhex(h) for h in c["proof"]],
    )


def checkpoint_read(path: Path, public_key: Ed25519PublicKey) -> Checkpoint:
    try:
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise CheckpointError(f"{path.name}: cannot read: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError):
        raise CheckpointError(f"{path.name}: not JSON") from None
    return checkpoint_parse(document, public_key, name=path.name)


def checkpoint_files(directory: Path | None = None) -> list[Path]:
    directory = directory or checkpoint_dir()
    if not directory.is_dir():
        return []
    return sorted(directory.glob(FILE_GLOB))


def stored_leaves(upto: int) -> list[bytes]:
    """The stored leaf hashes of entries 1..upto, in order. Fine for writing proofs; verifying
    recomputes leaves from content instead (services.audit_chain_verify)."""
    rows = AuditEntry.objects.filter(seq__lte=upto).order_by("seq").values_list("leaf_hash", flat=True)
    return [bytes.fromhex(h) for h in rows.iterator(chunk_size=10_000)]


def unauthenticated_entries(after: int, upto: int | None = None, limit: int = 20) -> list[int] | None:
    """Entries in (after, upto] that a holder of the signing key did not write as they are: no
    valid MAC over the hash recomputed from their content, or a stored leaf hash that is not
    theirs. None when this process has no key to check with. Only the entries since a checkpoint
    need this: earlier ones are bound by its signed root."""
    key = entry_mac_key()
    if key is None:
        return None
    rows = AuditEntry.objects.filter(seq__gt=after)
    if upto is not None:
        rows = rows.filter(seq__lte=upto)
    bad = []
    for row in (
        rows.order_by("seq").values_list(*HASHED_FIELDS, "leaf_hash", "entry_mac").iterator(chunk_size=2000)
    ):
        fields = dict(zip(HASHED_FIELDS, row[:-2], strict=True))
        digest, leaf = entry_digests(**fields)
        if leaf != row[-2] or not hmac.compare_digest(entry_mac(key, digest), row[-1]):
            bad.append(fields["seq"])
            if len(bad) >= limit:
                break
    return bad


def newest_checkpoint(public_key: Ed25519PublicKey) -> Checkpoint | None:
    """The largest valid checkpoint in the directory (unreadable ones are audit_verify's to
    report)."""
    best = None
    for path in checkpoint_files():
        try:
            found = checkpoint_read(path, public_key)
        except CheckpointError:
            continue
        if best is None or found.tree_size > best.tree_size:
            best = found
    return best


def audit_checkpoint_create() -> tuple[Checkpoint, float]:
    """Sign the log as it is now and write the checkpoint file; returns it and the seconds taken.

    The tree is read up to the head's seq, in one read-only transaction, so concurrent appends
    cannot skew it. Before signing, the tree must extend the newest checkpoint (the root of
    its first `tree_size` leaves equal): a log that was rolled back or forked is refused, as a
    transparency log never signs a head inconsistent with one it signed before.
    """
    started = time.monotonic()
    key = signing_key()
    public = key.public_key()
    previous = newest_checkpoint(public)
    with transaction.atomic():
        head = AuditHead.objects.filter(pk=AuditHead.SINGLETON).values_list("last_seq", flat=True).first()
        size = head or 0
        leaves = stored_leaves(size)
    if len(leaves) != size:
        raise CheckpointRefused(f"the head records {size} entries but {len(leaves)} were read")
    if previous is not None:
        # Sign only what the application wrote: an entry inserted by someone who can write the
        # table but has no key would otherwise be blessed by this signature. (The first
        # checkpoint signs the history it finds: that is where trust starts.)
        forged = unauthenticated_entries(previous.tree_size, size)
        if forged:
            raise CheckpointRefused(
                f"entries {', '.join(map(str, forged))} after {previous} were not written with the "
                "signing key (no valid MAC): run `manage.py audit_verify`"
            )
    root = merkle.root_of(leaves)
    consistency = None
    if previous is not None and previous.tree_size:
        if previous.tree_size > size:
            raise CheckpointRefused(f"the log has {size} entries, fewer than {previous}")
        proof = merkle.consistency_proof(leaves, previous.tree_size, size)
        consistency = {
            "from_size": previous.tree_size,
            "from_root": previous.root_hash,
            "proof": [h.hex() for h in proof],
        }
        if not merkle.verify_consistency(
            first=previous.tree_size,
            second=size,
            first_root=bytes.fromhex(previous.root_hash),
            second_root=root,
            proof=proof,
        ):
            raise CheckpointRefused(
                f"the log's first {previous.tree_size} entries are not those of {previous}"
            )
    unsigned = Checkpoint(size, root.hex(), format_at(timezone.now()), key_id(public), "", "", consistency)
    signature = sign(key, CHECKPOINT_CONTEXT, unsigned.body())
    signed = replace(unsigned, signature=signature)
    return replace(signed, name=_write(signed)), time.monotonic() - started


def _write(checkpoint: Checkpoint) -> str:
    """A new file, never an existing one: O_CREAT | O_EXCL, and a suffix if two checkpoints
    share size and microsecond. fsync, so a checkpoint reported written survives a crash."""
    directory = checkpoint_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stamp = checkpoint.time.replace("-", "").replace(":", "").replace(".", "")
    data = json.dumps(checkpoint.document(), sort_keys=True, indent=2).encode() + b"\n"
    for attempt in range(100):
        name = f"checkpoint-{checkpoint.tree_size:012d}-{stamp}{f'-{attempt}' if attempt else ''}.json"
        try:
            fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        return name
    raise CheckpointError("could not find a free checkpoint file name")  # pragma: no cover
