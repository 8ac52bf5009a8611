"""The migration engine: an `Executor` runs the phases of a run for the job that holds it.

Phases read what to do from the rows and write checkpoints back, so each is idempotent:

- backup:  read each source once (list id pages -> fetch in batches); every batch, still in
           memory, becomes a VDF backup row group with its per-vector digests, lineage, and an
           upsert into the target (a copied namespace shows as "Copying" meanwhile). The target
           writes are checkpointed after every batch: an interrupted pass starts its backup again
           but writes to the target only from the checkpoint on;
- copy:    whatever the backup phase did not copy (an item whose backup completed without its copy
           being recorded): the backup's row groups into the target, the row offset checkpointed;
- verify:  the target holds exactly the backup's ids with the digests recorded when they were
           read; the source, listed again, holds exactly those ids (a source about to be deleted
           is also fetched again and compared digest by digest); the (lagging) counts agree;
- cutover: registry twins, then - only when asked and only after verification - source deletion;
- rollback: restore deleted sources from verified backups, delete targets, registry back.

Each phase streams the batches of all its namespaces through a small thread pool (HTTP round
trips, SQLite reads, hashing and Parquet decoding overlap; results come back in order, so memory
is bounded by the batch size, not the namespace size). Over HTTP the units in flight adapt
(pipeline/adaptive.py) unless MIGRATION_CONCURRENCY fixes them. Database writes stay on the
calling thread. Every checkpoint renews the lease of the job running the run: a runner whose job
was taken over (its worker presumed dead) stops there, and a cancel request takes effect there.
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
