"""Checking an erasure after the fact (`verify_deletion`, Drift's alarm, re-filing an erased
creator): what of a creator is still in the index or a backup.

It is one read, never a job and never a write, so that anyone may run it at any time; it says
nothing about whether a deletion is still on its way, because counts lag deletes.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from twinadmin.erasure import backups
from twinadmin.erasure.namespaces import owned_namespaces
from twinadmin.lineage.selectors import lineage_copies_present, lineage_sources
from twinadmin.registry import codec
from twinadmin.registry.models import Twin
from twinadmin.vectors import get_index

from .common import _validated


def creator_remnants(*, creator_id: str) -> dict[str, Any]:
    """What of a creator the index still holds or a backup could restore (verify_deletion).
    One look, no polling: counts lag deletes, so right after an erasure this may still list
    namespaces that are on their way out."""
    _validated(creator_id)
    index = get_index()
    listed = owned_namespaces(index, creator_id)
    known = {codec.creator_namespace(creator_id)} | {
        codec.twin_namespace(creator_id, t)
        for t in Twin.objects.filter(creator__creator_id=creator_id).values_list("twin_id", flat=True)
    }
    remaining = []
    for name in sorted(known | listed.keys()):
        count = listed.get(name, 0)
        # Not counted (yet): an id listing still shows data written moments ago.
        if count or index.has_ids(name):
            remaining.append({"namespace": name, "vector_count": count})
    # Copies lineage knows of: the creator's ids still listed in a legacy source or __default__.
    lineage_left = []
    for source in lineage_sources(creator_id=creator_id):
        present = lineage_copies_present(index, creator_id=creator_id, source_namespace=source.namespace)
        if present:
            lineage_left.append({"namespace": source.namespace, "copied_ids_present": present})
    backups_left = backups.backups_remaining(creator_id=creator_id)
    return {
        "creator_id": creator_id,
        "clean": not remaining and not backups_left and not lineage_left,
        "namespaces": remaining,
        "lineage_sources": lineage_left,
        "backups_remaining": backups_left,
        "checked_at": timezone.now().isoformat(),
    }
