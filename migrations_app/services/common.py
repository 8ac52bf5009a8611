"""What the migration services share: the run's names and the refusal they raise."""

from __future__ import annotations

import logging

from migrations_app.models import NamespaceMigration

log = logging.getLogger(__name__)

Run = NamespaceMigration
Status = NamespaceMigration.Status
Phase = NamespaceMigration.Phase
JOB_KIND = "namespace_migration"


class MigrationStateError(ValueError):
    """The run is not in a state that allows this action; nothing was changed."""
