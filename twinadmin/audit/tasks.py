import logging

from celery import shared_task
from django.db import transaction

logger = logging.getLogger(__name__)


@shared_task(name="audit.checkpoint", ignore_result=True, acks_late=False)
def audit_checkpoint_task() -> str:
    """Beat runs this periodically, and erasures and twin deletions send it when they finish
    (`audit_checkpoint_soon`). A refusal (the log contradicts a checkpoint) is logged as an
    error for the operators to act on; it must not be retried into silence."""
    from twinadmin.audit.checkpoints import CheckpointError, CheckpointRefused, audit_checkpoint_create
    from twinadmin.audit.keys import AuditKeyError

    try:
        checkpoint, _ = audit_checkpoint_create()
    except AuditKeyError as exc:
        logger.warning("audit checkpoint skipped: %s", exc)
        return "no key"
    except (CheckpointError, CheckpointRefused) as exc:
        logger.error("audit checkpoint REFUSED, run `manage.py audit_verify`: %s", exc)
        return "refused"
    return checkpoint.name


def audit_checkpoint_soon() -> None:
    """Write a checkpoint once the current transaction commits, in the worker (one call for
    the erasure and twin-deletion services when they complete). A broker that cannot be reached
    is logged, never raised into the job that asked: its work is done, and beat's periodic
    checkpoint (AUDIT_CHECKPOINT_SECONDS) signs the same entries later."""

    def send() -> None:
        try:
            audit_checkpoint_task.delay()
        except Exception:
            logger.exception("audit checkpoint not queued (broker unreachable); beat's periodic one follows")

    transaction.on_commit(send)
