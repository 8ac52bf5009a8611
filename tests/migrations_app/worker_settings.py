"""Django settings for the Celery workers the migration integration tests start: the project's
settings plus the migration engine's tunables, taken from the environment the test passes (the
project settings read no MIGRATION_* variables)."""

import os

from twinadmin.settings import *  # noqa: F403

MIGRATION_BACKUP_DIR = os.environ["MIGRATION_BACKUP_DIR"]
MIGRATION_BATCH_SIZE = int(os.environ.get("MIGRATION_BATCH_SIZE") or 0) or None
MIGRATION_CONCURRENCY = int(os.environ.get("MIGRATION_CONCURRENCY") or 0) or None
MIGRATION_COUNT_DEADLINE_SECONDS = 30
