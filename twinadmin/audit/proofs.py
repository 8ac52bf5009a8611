"""Signed documents that carry their own evidence: a body (an erasure receipt, say), the audit
entries it rests on, each with an RFC 9162 inclusion proof against a signed checkpoint, and a
detached Ed25519 signature over all of it. Whoever holds the document and the public key can
check it without the database or the application:

    {"body": {...}, "audit_proof": {"checkpoint": <checkpoint document>,
                                    "entries": [{"leaf_index", "entry", "inclusion_proof"}]},
     "key_id": "...", "signature": base64(Ed25519(context + canonical JSON of the rest))}

Each `entry` is the entry as exports write it (twinadmin.audit.exports), so its leaf is
sha256(0x00 || canonical JSON of the entry without `entry_hash`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.core.serializers.json import DjangoJSONEncoder

from twinadmin.audit import merkle
from twinadmin.audit.chain import canonical_json
from twinadmin.audit.checkpoints import (
    Checkpoint,
    CheckpointError,
    CheckpointRefused,
    audit_checkpoint_create,
    checkpoint_parse,
    newest_checkpoint,
    stored_leaves,
)
from twinadmin.audit.exports import EXPORT_FIELDS, export_record
from twinadmin.audit.keys import key_id, sign, signature_valid, signing_key
from twinadmin.audit.models import AuditEntry

DOCUMENT_KEYS = frozenset({"body", "audit_proof", "key_id", "signature"})


class ProofDocumentError(ValueError):
    """The document cannot be read as a signed proof document (not JSON, wrong shape)."""


def audit_proof_build(seqs: Iterable[int]) -> dict[str, Any]:
    """Inclusion proofs of the entries `seqs` against the newest checkpoint that covers them
    (one is written now if none does). Refuses when the stored leaves do not give the
    checkpoint's root: the database contradicts the checkpoint, and proofs would not verify."""
    wanted = sorted(set(seqs))
    public = signing_key().public_key()
    checkpoint = newest_checkpoint(public)
    if checkpoint is None or (wanted and checkpoint.tree_size < wanted[-1]):
        checkpoint, _ = audit_checkpoint_create()
    leaves = stored_leaves(checkpoint.tree_size)
    if len(leaves) != checkpoint.tree_size or merkle.root_of(leaves).hex() != checkpoint.root_hash:
        raise CheckpointRefused(f"the log contradicts {checkpoint}: run `manage.py audit_verify`")
    rows = AuditEntry.objects.filter(seq__in=wanted).order_by("seq").values_list(*EXPORT_FIELDS)
    return {
        "checkpoint": checkpoint.document(),
        "entries": [
            {
                "leaf_index": row[0] - 1,
                "entry": export_record(row),
                "inclusion_proof": [p.hex() for p in merkle.inclusion_proof(leaves, row[0] - 1)],
            }
            for row in rows
        ],
    }


def proof_document_sign(body: dict[str, Any], audit_proof: dict[str, Any], context: bytes) -> dict[str, Any]:
    key = signing_key()
    # Exactly the JSON a reader will parse back: no datetimes, Decimals or tuples left.
    unsigned = json.loads(
        json.dumps(
            {"body": body, "audit_proof": audit_proof, "key_id": key_id(key.public_key())},
            cls=DjangoJSONEncoder,
        )
    )
    return {**unsigned, "signature": sign(key, context, unsigned)}


def proof_document_parse(data: bytes | str) -> dict[str, Any]:
    def refuse(value: str) -> None:
        raise ValueError(f"{value} is not JSON")

    try:
        document = json.loads(data, parse_constant=refuse)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ProofDocumentError("not a JSON document") from None
    if not isinstance(document, dict) or set(document) != DOCUMENT_KEYS:
        raise ProofDocumentError(
            f"not a signed receipt (expected the keys {', '.join(sorted(DOCUMENT_KEYS))})"
        )
    return document


def proof_document_check(document: dict[str, Any], public_key: Ed25519PublicKey, context: bytes) -> list[str]:
    """Every problem found (empty: the document is authentic and its entries are in the log
    the checkpoint signed). The signature and each proof are checked independently, so a
    report says what was changed."""
    problems = []
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    if not signature_valid(public_key, context, unsigned, document.get("signature")):
        problems.append("the signature does not match the document: it was changed, or signed by another key")
    proof = document.get("audit_proof")
    if not isinstance(proof, dict) or not isinstance(proof.get("entries"), list):
        return [*problems, "audit_proof is missing or malformed"]
    try:
        checkpoint = checkpoint_parse(proof.get("checkpoint"), public_key, name="anchored")
    except CheckpointError as exc:
        return [*problems, str(exc)]
    root = bytes.fromhex(checkpoint.root_hash)
    for n, item in enumerate(proof["entries"], start=1):
        problem = _entry_problem(item, checkpoint, root)
        if problem:
            problems.append(f"entry {n}: {problem}")
    return problems


def _entry_problem(item: Any, checkpoint: Checkpoint, root: bytes) -> str:
    if not isinstance(item, dict) or set(item) != {"leaf_index", "entry", "inclusion_proof"}:
        return "malformed"
    entry, index, path = item["entry"], item["leaf_index"], item["inclusion_proof"]
    if not isinstance(entry, dict) or set(entry) != set(EXPORT_FIELDS):
        return "not an audit entry"
    seq = entry["seq"]
    if not (isinstance(index, int) and isinstance(seq, int) and index == seq - 1):
        return "leaf_index does not match the entry's seq"
    if not isinstance(path, list):
        return "malformed proof"
    try:
        proof = [bytes.fromhex(p) for p in path]
        data = canonical_json({k: v for k, v in entry.items() if k != "entry_hash"}).encode("ascii")
    except (TypeError, ValueError):
        return "malformed proof or entry"
    if hashlib.sha256(data).hexdigest() != entry["entry_hash"]:
        return f"seq {seq}: entry_hash does not match its content"
    leaf = merkle.leaf_hash(data)
    if not merkle.verify_inclusion(leaf=leaf, index=index, size=checkpoint.tree_size, proof=proof, root=root):
        return f"seq {seq}: not in the log {checkpoint} signed (inclusion proof fails)"
    return ""
