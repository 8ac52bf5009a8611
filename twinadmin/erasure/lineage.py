"""Erasing the copies lineage knows of: the legacy namespaces a creator's vectors were copied
from, and the ids copied out of the shared `__default__`.

A legacy namespace that holds nothing but the creator's copied ids is deleted whole; one that
gained other vectors since (written there after the migration) loses exactly the copied ids, and
what remains is reported as kept. From `__default__` only the copied ids are ever deleted: vectors
the product wrote there later stay. Presence is decided by listing the namespace's ids (ids only,
no values) and intersecting them with the recorded ids, so verification sees exactly which of the
creator's ids are left. Every source gets an audit entry before and after its deletion.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone

from twinadmin.audit.services import audit_record
from twinadmin.erasure.models import ErasureNamespace, ErasureRequest
from twinadmin.erasure.namespaces import verify_timeout
from twinadmin.erasure.scope import ScopeEntry
from twinadmin.lib.polling import poll_until
from twinadmin.lineage.selectors import ID_CHUNK, lineage_copied_ids, lineage_split
from twinadmin.lineage.services import lineage_mark_erased
from twinadmin.vectors import get_index
from twinadmin.vectors.base import VectorIndex
from twinadmin.vectors.errors import NotFound, VectorError

Kind = ErasureNamespace.Kind
Status = ErasureNamespace.Status


def lineage_rows_sync(
    erasure: ErasureRequest, entries: list[ScopeEntry], *, approved: set[str] | None
) -> list[ErasureNamespace]:
    """One request row per lineage source. New ones start pending; a retry or a resumed run
    sets every one not yet verified gone (failed, or deleted while copies still listed)
    pending again: deleting ids is idempotent, and what was verified stays done."""
    existing = set(erasure.namespaces.values_list("name", flat=True))
    ErasureNamespace.objects.bulk_create(
        [
            ErasureNamespace(
                request=erasure,
                name=e.name,
                kind=e.kind,
                count_before=e.count,
                ids_targeted=e.copied_ids,
                found_at_execution=approved is not None and e.name not in approved,
            )
            for e in entries
            if e.name not in existing
        ],
        ignore_conflicts=True,
    )
    rows = erasure.namespaces.filter(kind__in=ErasureNamespace.LINEAGE_KINDS)
    rows.filter(verified=False).exclude(status=Status.PENDING).update(status=Status.PENDING, error="")
    return list(rows)


def _erase_one(index: VectorIndex, erasure: ErasureRequest, row: ErasureNamespace) -> dict[str, Any]:
    copied = lineage_copied_ids(creator_id=erasure.creator_id, source_namespace=row.name)
    present, kept = lineage_split(index, row.name, copied)
    if row.ids_present_before is None:
        row.ids_present_before = len(present)
    if not present:
        row.status = Status.NOT_FOUND
        return {"present": 0, "kept": kept, "mode": row.mode}
    if row.kind == Kind.LEGACY_SOURCE and kept == 0:
        # Nothing in it but the creator's copies: the namespace goes whole.
        row.mode = ErasureNamespace.Mode.NAMESPACE
        index.delete_namespace(row.name)
    else:
        row.mode = ErasureNamespace.Mode.IDS
        for start in range(0, len(present), ID_CHUNK):
            try:
                index.delete_ids(row.name, present[start : start + ID_CHUNK])
            except NotFound:  # the namespace went meanwhile
                break
    row.status = Status.DELETED
    return {"present": len(present), "kept": kept, "mode": row.mode}


def lineage_erase(
    erasure: ErasureRequest,
    rows: list[ErasureNamespace],
    *,
    audit: dict[str, Any],
    on_each: Callable[[], None],
) -> None:
    """Delete the creator's copies from each pending lineage source, audited before and after."""
    index = get_index()
    for row in rows:
        if row.status != Status.PENDING:
            continue
        common = {
            **audit,
            "action": "creator.erase.lineage",
            "target_type": "namespace",
            "target_id": row.name,
        }
        details = {
            "request": erasure.pk,
            "namespace": row.name,
            "kind": row.kind,
            "copied_ids": row.ids_targeted,
        }
        audit_record(**common, outcome="intent", details={**details, "vectors_before": row.count_before})
        try:
            outcome = _erase_one(index, erasure, row)
        except VectorError as exc:  # the adapter already retried; the request stays open
            row.status, row.error = Status.FAILED, f"{type(exc).__name__}: {exc}"
            audit_record(**common, outcome="failure", details={**details, "error": row.error[:500]})
        else:
            row.error = ""
            audit_record(**common, outcome="success", details={**details, "status": row.status, **outcome})
        row.delete_calls += 1
        row.save(update_fields=["status", "mode", "error", "delete_calls", "ids_present_before"])
        on_each()


def lineage_verify(
    erasure: ErasureRequest, rows: list[ErasureNamespace], *, on_round: Callable[[], None] | None = None
) -> bool:
    """Poll until none of the creator's copied ids is listed in any source (listings can lag
    deletes too). Records, per source, what was seen and how many other vectors it keeps."""
    index = get_index()
    todo = {r.name: r for r in rows if r.status != Status.FAILED}
    copied = {name: lineage_copied_ids(creator_id=erasure.creator_id, source_namespace=name) for name in todo}
    seen: dict[str, dict[str, Any]] = {}

    def check(round_no: int) -> bool:
        for name in sorted(todo):
            present, others = lineage_split(index, name, copied[name])
            seen[name] = {
                "round": round_no,
                "at": timezone.now().isoformat(),
                "copied_ids_listed": len(present),
                "other_vectors_kept": others,
            }
            if not present:
                row = todo.pop(name)
                row.verified, row.verified_at = True, timezone.now()
                row.kept_after = others
                row.evidence = seen[name]
                row.save(update_fields=["verified", "verified_at", "kept_after", "evidence"])
                lineage_mark_erased(
                    creator_id=erasure.creator_id, source_namespace=name, request_id=erasure.pk
                )
        return not todo

    if todo:
        poll_until(check, timeout=verify_timeout(), on_round=on_round)
    for name, row in todo.items():
        row.verified, row.evidence = False, {**seen.get(name, {}), "still_present": True}
        row.save(update_fields=["verified", "evidence"])
    return not todo and all(r.status != Status.FAILED for r in rows)
