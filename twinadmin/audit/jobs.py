"""Job kinds owned by the audit app."""

from twinadmin.audit.services import audit_chain_verify
from twinadmin.jobs.handlers import job_handler
from twinadmin.jobs.models import Job


@job_handler("audit_verify", retryable=True)
def audit_verify_job(job: Job) -> dict:
    # A walk of a million entries takes ~20 s: too long for a request, so pages run it as a job.
    report = audit_chain_verify()
    return {**report.as_dict(), "seconds": round(report.seconds, 3)}
