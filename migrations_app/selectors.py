"""Reads for the migration pages and commands."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q

from migrations_app.models import MigrationItem, NamespaceMigration
from migrations_app.planning import Plan
from twinadmin.registry.codec import NamespaceKind
from twinadmin.registry.models import IndexNamespace, IndexSnapshot, Twin

PAGE_SIZE = 50


def run_page(*, page: Any = 1) -> Page:
    qs = NamespaceMigration.objects.annotate(
        item_count=Count("items"), verified_count=Count("items", filter=Q(items__verified=True))
    ).order_by("-created_at", "-id")
    return Paginator(qs, PAGE_SIZE).get_page(page)


def run_items(run: NamespaceMigration) -> list[MigrationItem]:
    return list(run.items.select_related("backup").order_by("position"))


def run_report(run: NamespaceMigration, items: list[MigrationItem] | None = None) -> dict[str, Any]:
    """The `--json` shape of the commands."""
    items = run_items(run) if items is None else items
    return {
        "run": run.pk,
        "status": run.status,
        "verified": bool(items) and all(i.verified for i in items),
        "namespaces": [
            {
                "source": i.source_namespace,
                "target": i.target_namespace or None,
                "source_count": i.verification.get("source_count", i.source_count),
                "target_count": i.verification.get("target_count", 0),
                "verified": bool(i.verified),
            }
            for i in items
        ],
    }


def plan_report(plan: Plan) -> dict[str, Any]:
    """A dry run in the same shape, plus what would stop it."""
    return {
        "run": None,
        "status": "dry-run",
        "verified": False,
        "ok": plan.ok,
        "creator": plan.creator_id,
        "creator_exists": plan.creator_exists,
        "kept": plan.kept,
        "problems": plan.problems,
        "namespaces": [{**row.as_dict(), "verified": False} for row in plan.rows],
    }


def discovery_counts() -> dict[str, Any]:
    """What the last index snapshot holds, by class, and how many legacy namespaces are mapped."""
    by_kind = dict(IndexNamespace.objects.values_list("kind").annotate(n=Count("id")))
    legacy = IndexNamespace.objects.filter(kind__in=[NamespaceKind.LEGACY_UUID, NamespaceKind.DEFAULT])
    mapped = Twin.objects.filter(legacy_namespace__in=legacy.values("name")).count()
    return {
        "snapshot": IndexSnapshot.objects.order_by("-observed_at").first(),
        "by_kind": [(k.value, by_kind.get(k.value, 0)) for k in NamespaceKind],
        "legacy_total": legacy.count(),
        "legacy_mapped": mapped,
    }


def discovery_rows(*, kind: str = "", page: Any = 1) -> tuple[Page, list[tuple[IndexNamespace, Twin | None]]]:
    """A page of namespaces from the snapshot, each with the twin a legacy namespace maps to."""
    qs = IndexNamespace.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    page_obj = Paginator(qs.order_by("name"), PAGE_SIZE).get_page(page)
    names = [n.name for n in page_obj.object_list]
    twins = Twin.objects.select_related("creator").filter(legacy_namespace__in=names)
    by_legacy = {t.legacy_namespace: t for t in twins}
    return page_obj, [(n, by_legacy.get(n.name)) for n in page_obj.object_list]


def legacy_namespace_choices() -> list[tuple[str, str]]:
    rows = IndexNamespace.objects.filter(
        kind__in=[NamespaceKind.LEGACY_UUID, NamespaceKind.DEFAULT]
    ).order_by("name")
    return [(n.name, f"{n.name} ({n.vector_count})") for n in rows.only("name", "vector_count")]
