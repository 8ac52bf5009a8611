"""Reads for the drill list and the decision point."""

from __future__ import annotations

from typing import Any

from migrations_app.models import NamespaceMigration
from twinadmin.audit.models import AuditEntry
from twinadmin.drills.models import DrillRun
from twinadmin.registry.models import Creator
from twinadmin.search.models import LatencyReport

DEFAULT_DECISION_CREATOR = "sainath.no.1"


def decision_summary(*, creator_id: str) -> dict[str, Any]:
    """What has been verified before deciding whether to keep the migrated data, the creator
    (None: not registered), the last "keep" recorded for it, and whether a decision can still be
    made (a registered creator that is not erased or being erased)."""
    creator = Creator.objects.filter(creator_id=creator_id).first()
    kept = AuditEntry.objects.filter(action="decision.keep", creator_id=creator_id).order_by("-seq").first()
    migration = NamespaceMigration.objects.filter(creator_id=creator_id).first()
    drill = DrillRun.objects.exclude(status__in=[DrillRun.Status.PENDING, DrillRun.Status.RUNNING]).first()
    reports = list(LatencyReport.objects.filter(creator_id=creator_id).order_by("-created_at", "-id")[:2])
    reports.reverse()  # before, after
    return {
        "creator_id": creator_id,
        "creator": creator,
        "can_decide": creator is not None and creator.status == Creator.Status.ACTIVE,
        "kept": kept,
        "migration": migration,
        "migration_verified": bool(migration and migration.status == NamespaceMigration.Status.SUCCEEDED),
        "drill": drill,
        "drill_passed": bool(drill and drill.passed),
        "reports": reports,
    }
