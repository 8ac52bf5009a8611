"""Reads for the migration pages and commands."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Q
from django.template.defaultfilters import pluralize
from django.utils import timezone

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


# How far an item has come through the run's three vector-sized stages (backup, copy, verify),
# by its step; a step in flight adds its own progress_done. Cut over counts as the end.
_STAGE_OF_STEP: dict[str, int] = {
    MigrationItem.Step.PENDING: 0,
    MigrationItem.Step.BACKING_UP: 0,
    MigrationItem.Step.BACKED_UP: 1,
    MigrationItem.Step.COPYING: 1,
    MigrationItem.Step.COPIED: 2,
    MigrationItem.Step.VERIFYING: 2,
    MigrationItem.Step.VERIFIED: 3,
    MigrationItem.Step.CUTTING_OVER: 3,
    MigrationItem.Step.CUT_OVER: 3,
}
_STAGES = 3
IN_FLIGHT_STEPS: frozenset[str] = frozenset(
    {
        MigrationItem.Step.BACKING_UP,
        MigrationItem.Step.COPYING,
        MigrationItem.Step.VERIFYING,
        MigrationItem.Step.CUTTING_OVER,
        MigrationItem.Step.ROLLING_BACK,
    }
)
# What "done" means for the namespaces in each phase, for the counts line.
_PHASE_DONE: dict[str, tuple[str, int]] = {
    NamespaceMigration.Phase.BACKUP: ("backed up", 1),
    NamespaceMigration.Phase.COPY: ("copied", 2),
    NamespaceMigration.Phase.VERIFY: ("verified", 3),
    NamespaceMigration.Phase.CUTOVER: ("cut over", 3),
}


@dataclass(frozen=True)
class RunProgress:
    """One overall bar for a run: how much of its work is done, at what rate, how long is left;
    and, once it has ended, the summary line ("30/30 namespaces verified, 805/805 vectors")."""

    percent: int
    namespaces: int
    namespaces_done: int
    done_label: str
    vectors: int
    vectors_done: int
    rate: float | None  # vectors through a stage per second since the run started
    eta_seconds: int | None
    summary: str


def run_progress(
    run: NamespaceMigration, items: list[MigrationItem], *, now: dt.datetime | None = None
) -> RunProgress:
    now = now or timezone.now()
    sizes = [max(i.source_count, i.progress_total if i.step in IN_FLIGHT_STEPS else 0, 1) for i in items]
    work = _STAGES * sum(sizes)
    units = 0
    for item, size in zip(items, sizes, strict=True):
        stage = _STAGE_OF_STEP.get(item.step)
        if stage is None:  # failed or rolled back: counts as far as nothing
            continue
        units += stage * size + (min(item.progress_done, size) if item.step in IN_FLIGHT_STEPS else 0)
    label, stage_done = _PHASE_DONE.get(run.phase, ("cut over", 3))
    namespaces_done = sum(1 for i in items if _STAGE_OF_STEP.get(i.step, -1) >= stage_done)
    if run.phase == NamespaceMigration.Phase.CUTOVER:
        namespaces_done = sum(1 for i in items if i.step == MigrationItem.Step.CUT_OVER)
    vectors = sum(i.source_count for i in items)
    vectors_done = sum(
        min(i.progress_done, i.source_count)
        if i.step in IN_FLIGHT_STEPS
        else (i.source_count if _STAGE_OF_STEP.get(i.step, -1) >= stage_done else 0)
        for i in items
    )
    rate = eta = None
    if run.is_active and run.started_at and units:
        elapsed = (now - run.started_at).total_seconds()
        if elapsed > 0:
            rate = units / elapsed
            eta = int(round((work - units) / rate)) if rate > 0 else None
    verified = [i for i in items if i.verified]
    if run.status == NamespaceMigration.Status.SUCCEEDED or (not run.is_active and verified):
        moved = sum(i.verification.get("target_count") or 0 for i in verified)
        summary = (
            f"{len(verified)}/{len(items)} namespace{pluralize(len(items))} verified, "
            f"{moved}/{vectors} vector{pluralize(vectors)}"
        )
    else:
        summary = ""
    finished = run.status == NamespaceMigration.Status.SUCCEEDED
    return RunProgress(
        percent=100 if finished else (min(100, int(100 * units / work)) if work else 0),
        namespaces=len(items),
        namespaces_done=len(items) if finished else namespaces_done,
        done_label="cut over" if finished else label,
        vectors=vectors,
        vectors_done=vectors if finished else vectors_done,
        rate=rate,
        eta_seconds=eta,
        summary=summary,
    )
