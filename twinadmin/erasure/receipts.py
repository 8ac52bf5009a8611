"""The erasure receipt: what an auditor keeps as proof, as one JSON document (the page renders
the same dict). It names namespaces, counts, people, times and evidence; it never holds vector
values, metadata, ids or text — nothing here reads vectors, only counts and id *counts*."""

from __future__ import annotations

import datetime as dt
from typing import Any

from twinadmin.erasure.models import ErasureRequest

RECEIPT_VERSION = 1


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def erasure_receipt(erasure: ErasureRequest) -> dict[str, Any]:
    namespaces = list(erasure.namespaces.all())
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
            {
                "name": ns.name,
                "kind": ns.kind,
                "twin_id": ns.twin_id,
                "count_before": ns.count_before,
                "status": ns.status,
                "verified": ns.verified,
                "verified_at": _iso(ns.verified_at),
                "evidence": ns.evidence,
                "error": ns.error,
            }
            for ns in namespaces
        ],
        "totals": {
            "namespaces": len(namespaces),
            "vectors_before": sum(ns.count_before for ns in namespaces),
            "deleted": sum(1 for ns in namespaces if ns.status == "deleted"),
            "not_found": sum(1 for ns in namespaces if ns.status == "not_found"),
            "failed": sum(1 for ns in namespaces if ns.status == "failed"),
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
                "error": b.error,
            }
            for b in erasure.backups.all()
        ],
        "verification": erasure.verification,
        "last_error": erasure.last_error,
        "audit": {"entry_seq": erasure.audit_seq, "chain_head_hash": erasure.audit_head_hash or None},
    }
