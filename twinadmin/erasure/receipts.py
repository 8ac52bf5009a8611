"""The erasure receipt: what an auditor keeps as proof, as one JSON document (the page renders
the same dict). It names namespaces, counts, people, times and evidence; it never holds vector
values, metadata, ids or text — nothing here reads vectors, only counts and id *counts*."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from migrations_app.services.backup_records import backup_objects_deleted, data_key_state
from twinadmin.audit.keys import RECEIPT_CONTEXT
from twinadmin.audit.models import AuditEntry
from twinadmin.audit.proofs import audit_proof_build, proof_document_check, proof_document_sign
from twinadmin.erasure.models import ErasureRequest

# 2: lineage sources, the approved scope, found-at-execution marks; 3: backup objects deleted
# and the destruction of the creator's backup data key
RECEIPT_VERSION = 3


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _outcome(ns: Any) -> dict[str, Any]:
    """What every namespace row of the receipt says of its erasure."""
    return {
        "count_before": ns.count_before,
        "status": ns.status,
        "verified": ns.verified,
        "verified_at": _iso(ns.verified_at),
        "evidence": ns.evidence,
        "error": ns.error,
        "found_at_execution": ns.found_at_execution,
    }


def _backups_erased(erasure: ErasureRequest, deleted: dict[str, int]) -> dict[str, Any]:
    """What became of the creator's backups: how many objects were deleted from the store, and
    when their data key was destroyed (which makes any copy that survives elsewhere, a bucket
    version or a snapshot, unreadable)."""
    key = data_key_state(creator_id=erasure.creator_id)
    destroyed_at = key.destroyed_at if key is not None else None
    return {
        "objects_deleted": sum(deleted.values()),
        "data_key_destroyed_at": _iso(destroyed_at),
        "statement": (
            f"objects deleted: {sum(deleted.values())}; "
            + (f"data key destroyed at {_iso(destroyed_at)}" if destroyed_at else "data key not destroyed")
        ),
    }


def erasure_receipt(erasure: ErasureRequest) -> dict[str, Any]:
    """The receipt of one request. Long on purpose: it is one dict literal, the document's
    layout read top to bottom as an auditor sees it (RECEIPT_VERSION names its shape); split
    into pieces it would no longer read as the one document it is."""
    rows = list(erasure.namespaces.all())
    handled = list(erasure.backups.all())
    objects_deleted = backup_objects_deleted(backup_refs=[b.backup_ref for b in handled])
    namespaces = [ns for ns in rows if not ns.is_lineage]
    lineage = [ns for ns in rows if ns.is_lineage]
    return {
        "receipt_version": RECEIPT_VERSION,
        "request_id": erasure.pk,
        "creator_id": erasure.creator_id,
        "status": erasure.status,
        "verified": erasure.status == ErasureRequest.Status.COMPLETED,
        "reason": erasure.reason,
        "ticket_reference": erasure.ticket_reference,
        "correlation_id": str(erasure.correlation_id),
        "timestamps": {
            "requested": _iso(erasure.requested_at),
            "approved": _iso(erasure.approved_at),
            "started": _iso(erasure.started_at),
            "completed": _iso(erasure.completed_at),
            "verified": _iso(erasure.verified_at),
        },
        "people": {
            "requester": erasure.requested_by_name,
            "approver": erasure.approved_by_name,
            "executor": erasure.executor,
        },
        "attempts": erasure.attempts,
        "namespaces": [
            {"name": ns.name, "kind": ns.kind, "twin_id": ns.twin_id, **_outcome(ns)} for ns in namespaces
        ],
        # Where the creator's vectors had been copied from: legacy namespaces and __default__.
        "lineage_sources": [
            {
                "name": ns.name,
                "kind": ns.kind,
                "copied_ids": ns.ids_targeted,
                "copied_ids_found": ns.ids_present_before,
                "erased_as": ns.mode if ns.status == "deleted" else None,
                "other_vectors_kept": ns.kept_after,
                **_outcome(ns),
            }
            for ns in lineage
        ],
        "approved_scope": {
            "digest": erasure.approved_scope_digest or None,
            "read_at": (erasure.approved_scope or {}).get("read_at"),
            "total_vectors": (erasure.approved_scope or {}).get("total_vectors"),
        },
        "totals": {
            "namespaces": len(namespaces),
            "vectors_before": sum(ns.count_before for ns in namespaces),
            "deleted": sum(1 for ns in namespaces if ns.status == "deleted"),
            "not_found": sum(1 for ns in namespaces if ns.status == "not_found"),
            "failed": sum(1 for ns in rows if ns.status == "failed"),
            "lineage_sources": len(lineage),
            "lineage_ids_erased": sum(ns.ids_present_before or 0 for ns in lineage),
        },
        "backups": [
            {
                "backup": b.backup_ref,
                "source_namespace": b.source_namespace,
                "status_before": b.status_before,
                "action": b.action,
                "expires_at": _iso(b.expires_at),
                "size_bytes": b.size_bytes,
                "checksum": b.checksum,
                "objects_deleted": objects_deleted.get(b.backup_ref, 0),
                "error": b.error,
            }
            for b in handled
        ],
        "backups_erased": _backups_erased(erasure, objects_deleted),
        "verification": erasure.verification,
        "last_error": erasure.last_error,
        "audit": {"entry_seq": erasure.audit_seq, "chain_head_hash": erasure.audit_head_hash or None},
    }


def erasure_receipt_signed(erasure: ErasureRequest) -> dict[str, Any]:
    """The receipt as a document anyone can check with the public key alone
    (twinadmin.audit.proofs): the receipt as `body`, every audit entry of the request (its
    correlation id) with an inclusion proof against a signed checkpoint, and a detached
    Ed25519 signature over it all. `manage.py receipt_verify` checks one."""
    seqs = AuditEntry.objects.filter(correlation_id=erasure.correlation_id).values_list("seq", flat=True)
    return proof_document_sign(erasure_receipt(erasure), audit_proof_build(seqs), RECEIPT_CONTEXT)


def erasure_receipt_check(document: dict[str, Any], public_key: Ed25519PublicKey) -> list[str]:
    """Every problem with a signed receipt; empty when it is authentic, its entries are in the
    signed log, and they are this request's (its correlation id, its finish entry)."""
    problems = proof_document_check(document, public_key, RECEIPT_CONTEXT)
    body, proof = document.get("body"), document.get("audit_proof")
    if (
        not isinstance(body, dict)
        or not isinstance(proof, dict)
        or not isinstance(proof.get("entries"), list)
    ):
        return problems or ["not a receipt"]
    entries: list[dict[str, Any]] = [
        e["entry"] for e in proof["entries"] if isinstance(e, dict) and isinstance(e.get("entry"), dict)
    ]
    if any(e.get("correlation_id") != body.get("correlation_id") for e in entries):
        problems.append("an entry belongs to another request (correlation id differs)")
    finish = (body.get("audit") or {}).get("entry_seq") if isinstance(body.get("audit"), dict) else None
    if finish is not None and finish not in {e.get("seq") for e in entries}:
        problems.append(f"the request's finish entry (seq {finish}) has no inclusion proof")
    if not entries:
        problems.append("the receipt carries no audit entries")
    return problems
