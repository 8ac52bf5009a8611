from django.core.management.base import BaseCommand, CommandError

from twinadmin.audit.checkpoints import (
    CheckpointError,
    CheckpointRefused,
    audit_checkpoint_create,
    checkpoint_dir,
)
from twinadmin.audit.keys import AuditKeyError


class Command(BaseCommand):
    help = (
        "Sign the audit log's current tree size and Merkle root and write a new checkpoint file into "
        "AUDIT_CHECKPOINT_DIR (never replacing one). Refuses when the log contradicts the newest checkpoint."
    )

    def handle(self, *args: object, **options: object) -> None:
        try:
            checkpoint, seconds = audit_checkpoint_create()
        except (AuditKeyError, CheckpointError, CheckpointRefused) as exc:
            raise CommandError(f"no checkpoint written: {exc}") from None
        self.stdout.write(
            f"wrote {checkpoint_dir() / checkpoint.name}: size {checkpoint.tree_size}, "
            f"root {checkpoint.root_hash} ({seconds:.2f} s)"
        )
