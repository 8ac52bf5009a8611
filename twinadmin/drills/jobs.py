"""Job kind owned by the drills app."""

from twinadmin.drills.services import KIND_ERASURE_DRILL, erasure_drill_execute
from twinadmin.jobs.handlers import job_handler

job_handler(KIND_ERASURE_DRILL)(erasure_drill_execute)
