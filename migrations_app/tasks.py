"""Celery tasks. A run is a chain of `migrations.run_phase` tasks (backup -> copy -> verify ->
cutover, or rollback), each taking the run id and the attempt it was queued for.

acks_late: a phase is idempotent (checkpointed rows, idempotent upserts), so a message is only
acknowledged once its phase ended; a worker killed mid-phase leaves it to be redelivered, and
the claim lets the redelivery take over only once the dead runner is known to be gone.
Transient index errors (after the adapter's own retries) are retried with backoff; the retry
continues from the checkpoints.
"""

from __future__ import annotations

from celery import shared_task

from migrations_app.services import migration_phase_execute
from twinadmin.vectors import RateLimited, TransientError

MAX_RETRIES = 5


@shared_task(
    bind=True,
    name="migrations.run_phase",
    acks_late=True,
    reject_on_worker_lost=True,
    # A transient index error that outlived the adapter's own retries: Celery retries the phase
    # with exponential backoff and jitter; the retry continues from the checkpoints.
    autoretry_for=(TransientError, RateLimited),
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=MAX_RETRIES,
)
def run_phase(self, run_id: int, attempt: int, phase: str) -> bool:
    # On the last try the error is recorded on the run (failed, resumable) instead of raised.
    return migration_phase_execute(
        run_id=run_id, attempt=attempt, phase=phase, retryable=self.request.retries < MAX_RETRIES
    )
