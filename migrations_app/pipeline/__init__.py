"""The migration engine: an `Executor` runs the phases of a run for the job that holds it.

Phases read what to do from the rows and write checkpoints back, so each is idempotent:

- backup:  stream each source (list id pages -> fetch in batches) into a VDF backup;
- copy:    stream the backup's row groups into the target (upserts are idempotent by id), the
           row offset checkpointed after every batch, so a re-run continues where it stopped;
- verify:  the target holds exactly the source's ids with equal per-vector digests, the source
           still matches the backup, and the (lagging) counts agree;
- cutover: registry twins, then - only when asked and only after verification - source deletion;
- rollback: restore deleted sources from verified backups, delete targets, registry back.

Each phase streams the batches of all its namespaces through one small thread pool (HTTP round
trips, SQLite reads, hashing and Parquet decoding overlap; results come back in order, at most
2 x workers batches in flight, so memory is bounded by the batch size, not the namespace size).
Database writes stay on the calling thread. Every checkpoint renews the lease of the job running
the run: a runner whose job was taken over (its worker presumed dead) stops there, and a cancel
request takes effect there.
"""

from migrations_app.pipeline.base import (
    Cancelled,
    ProgressFn,
    RollbackRefused,
    VerificationFailed,
    ordered_map,
)
from migrations_app.pipeline.executor import Executor
from migrations_app.pipeline.rollback import check_creator_restorable
from twinadmin.lib.memory import release_freed_memory

__all__ = [
    "Cancelled",
    "Executor",
    "ProgressFn",
    "RollbackRefused",
    "VerificationFailed",
    "check_creator_restorable",
    "ordered_map",
    "release_freed_memory",
]
