"""Tunables of the migration engine, read from Django settings with embedded defaults (none of
them needs to be set; tests point MIGRATION_BACKUP_DIR at a tmp dir)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from twinadmin.vectors import VectorIndex


def backup_dir() -> Path:
    return Path(settings.MIGRATION_BACKUP_DIR)


def backup_retention_days() -> int:
    return int(settings.MIGRATION_BACKUP_RETENTION_DAYS)


def count_deadline_seconds() -> float:
    """How long verification polls lagging counts before it gives up."""
    return float(settings.MIGRATION_COUNT_DEADLINE_SECONDS)


def index_name() -> str:
    return str(settings.PINECONE_INDEX_NAME or "digital-twin-brain")


def batch_size(index: VectorIndex) -> int:
    """Vectors per fetch/upsert unit (and per Parquet row group). Over HTTP one unit of 100 is one
    fetch request and two upserts under 2 MB at 1536 dimensions, and concurrency across units is
    what pays; the local store does best with larger transactions, while 500 keeps the batches in
    flight (about 4 MB each at 1536 dimensions) well inside the memory aim."""
    configured = settings.MIGRATION_BATCH_SIZE
    if configured:
        return int(configured)
    # An index whose calls cannot overlap (concurrency hint 1: one writer) gains from larger ones.
    return 500 if index.concurrency_hint == 1 else 100


def concurrency(index: VectorIndex) -> int:
    """Units in flight at once. SQLite has one writer, so two threads only overlap reading and
    hashing with writing; over HTTP the round trips overlap."""
    configured = settings.MIGRATION_CONCURRENCY
    if configured:
        return max(1, int(configured))
    return max(2, index.concurrency_hint)
