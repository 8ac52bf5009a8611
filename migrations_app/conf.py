"""Tunables of the migration engine, read from Django settings with embedded defaults (none of
them needs to be set; tests point MIGRATION_BACKUP_DIR at a tmp dir)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from twinadmin.vectors import VectorIndex


def backup_dir() -> Path:
    return Path(getattr(settings, "MIGRATION_BACKUP_DIR", settings.BASE_DIR / "var" / "backups"))


def backup_retention_days() -> int:
    return int(getattr(settings, "MIGRATION_BACKUP_RETENTION_DAYS", 30))


def stale_after_seconds() -> float:
    """A RUNNING run whose heartbeat is older than this may be taken over (resume)."""
    return float(getattr(settings, "MIGRATION_STALE_SECONDS", 300))


def count_deadline_seconds() -> float:
    """How long verification polls lagging counts before it gives up."""
    return float(getattr(settings, "MIGRATION_COUNT_DEADLINE_SECONDS", 120))


def index_name() -> str:
    return str(getattr(settings, "PINECONE_INDEX_NAME", "") or "digital-twin-brain")


def _is_local(index: VectorIndex) -> bool:
    from twinadmin.vectors.local import LocalStore

    return isinstance(index, LocalStore)


def batch_size(index: VectorIndex) -> int:
    """Vectors per fetch/upsert unit (and per Parquet row group). Over HTTP one unit of 100 is one
    fetch request and two upserts under 2 MB at 1536 dimensions, and concurrency across units is
    what pays; the local store does best with larger transactions, while 500 keeps the batches in
    flight (about 4 MB each at 1536 dimensions) well inside the memory aim."""
    configured = getattr(settings, "MIGRATION_BATCH_SIZE", None)
    if configured:
        return int(configured)
    return 500 if _is_local(index) else 100


def concurrency(index: VectorIndex) -> int:
    """Units in flight at once. SQLite has one writer, so two threads only overlap reading and
    hashing with writing; over HTTP the round trips overlap."""
    configured = getattr(settings, "MIGRATION_CONCURRENCY", None)
    if configured:
        return max(1, int(configured))
    return 2 if _is_local(index) else 8
