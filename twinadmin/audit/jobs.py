"""Job kinds owned by the audit app."""

from typing import Any

from django.urls import reverse

from twinadmin.audit.checkpoints import checkpoint_files
from twinadmin.audit.keys import AuditKeyError, public_key_load
from twinadmin.audit.services import audit_chain_verify
from twinadmin.audit.verify import INVALID, CheckpointResult, audit_verify_against
from twinadmin.jobs.handlers import job_handler
from twinadmin.jobs.models import Job


@job_handler(
    "audit_verify", retryable=True, produces=lambda job: ("the chain check", reverse("audit-verify-chain"))
)
def audit_verify_job(job: Job) -> dict[str, Any]:
    # A walk of a million entries takes ~20 s: too long for a request, so pages run it as a job.
    # The same check as `manage.py audit_verify`: the chain, and every signed checkpoint.
    results: list[CheckpointResult] = []
    if checkpoint_files():
        try:
            report, results = audit_verify_against(None, public_key_load())
        except AuditKeyError as exc:
            report = audit_chain_verify()
            results = [CheckpointResult("(all)", None, INVALID, str(exc))]
    else:
        report = audit_chain_verify()
    checkpoints = [r.as_dict() for r in results]
    return {
        **report.as_dict(),
        "ok": report.ok and all(r.ok for r in results),
        "chain_ok": report.ok,
        "checkpoints": checkpoints,
        "checkpoints_failed": [c for c in checkpoints if not c["ok"]],
        "seconds": round(report.seconds, 3),
    }
