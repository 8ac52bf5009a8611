"""`cleanup --all --yes`: empty the configured index and the registry (the seed's cleanup.py),
audited like every destructive action. Erasure requests, receipts and the audit log stay: they
name creators by id, not by registry row."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import ProtectedError

from twinadmin.audit.services import audit_record
from twinadmin.erasure.namespaces import verify_timeout
from twinadmin.lib.polling import poll_until
from twinadmin.registry.models import Creator, IndexNamespace, IndexSnapshot, Twin
from twinadmin.vectors import VectorIndex, get_index
from twinadmin.vectors.errors import VectorError


class CleanupError(RuntimeError):
    pass


def index_label() -> str:
    return settings.PINECONE_INDEX_NAME if settings.VECTOR_BACKEND == "pinecone" else "local"


def index_cleanup(*, actor: Any, timeout: float | None = None) -> dict[str, Any]:
    index = get_index()
    correlation_id = uuid.uuid4()
    audit = {
        "actor": actor,
        "target_type": "index",
        "target_id": index_label(),
        "correlation_id": correlation_id,
    }
    names, before = _census(index)
    audit_record(action="index.cleanup.start", outcome="intent", details=before, **audit)
    registry = _registry_delete(audit)
    deleted, not_found, failed = _namespaces_delete(index, names)
    seen = _settled(index, timeout=verify_timeout() if timeout is None else timeout)
    ok = not failed and seen["vectors"] == 0
    result = {
        "before": before,
        "registry_rows_deleted": registry,
        "namespaces_deleted": deleted,
        "namespaces_not_found": not_found,
        "failed": failed,
        "after": seen,
        "verified": ok,
    }
    audit_record(
        action="index.cleanup.finish", outcome="success" if ok else "failure", details=result, **audit
    )
    return result


def _census(index: VectorIndex) -> tuple[list[str], dict[str, int]]:
    """Every namespace (the stats' and the listing's), and what there is before the cleanup."""
    stats = index.describe_index_stats()
    names = sorted(set(stats.namespaces) | {n.name for n in index.iter_namespaces()})
    before = {
        "namespaces": len(names),
        "vectors": stats.total_vector_count,
        "creators": Creator.objects.count(),
        "twins": Twin.objects.count(),
    }
    return names, before


def _registry_delete(audit: dict[str, Any]) -> dict[str, int]:
    """Registry first, in one transaction: if another app's rows protect a twin, nothing has
    been deleted yet and the error (audited as the cleanup's failed end) says which."""
    try:
        with transaction.atomic():
            return {
                "index_namespaces": IndexNamespace.objects.all().delete()[0],
                "snapshots": IndexSnapshot.objects.all().delete()[0],
                "twins": Twin.objects.all().delete()[0],
                "creators": Creator.objects.all().delete()[0],
            }
    except ProtectedError as exc:
        message = f"registry rows are still referenced: {exc.args[0]}"
        audit_record(action="index.cleanup.finish", outcome="failure", details={"error": message}, **audit)
        raise CleanupError(message) from None


def _namespaces_delete(index: VectorIndex, names: list[str]) -> tuple[int, int, list[str]]:
    """(deleted, not found, "name: error" of each refused) over `names`; a refusal does not stop
    the others."""
    deleted, not_found, failed = 0, 0, []
    for name in names:
        try:
            if index.delete_namespace(name):
                deleted += 1
            else:
                not_found += 1
        except VectorError as exc:
            failed.append(f"{name}: {exc}")
    return deleted, not_found, failed


def _settled(index: VectorIndex, *, timeout: float) -> dict[str, Any]:
    """The index's counts once it reads empty, or when `timeout` runs out (counts lag deletes)."""
    seen: dict[str, Any] = {}

    def empty(_: int) -> bool:
        after = index.describe_index_stats()
        seen.update(vectors=after.total_vector_count, namespaces=len(after.namespaces))
        return after.total_vector_count == 0

    poll_until(empty, timeout=timeout)
    return seen
