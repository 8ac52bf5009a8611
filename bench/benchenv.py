"""What every bench's Django needs from its own temporary directory, never from var/."""

from __future__ import annotations

import os
from pathlib import Path


def throwaway_kek(tmp: str | Path) -> str:
    """A backup key-encryption key for this run only, in `tmp`, named by BACKUP_KEK_FILE in this
    process's environment (children inherit it): without one, `migrate` and every backup stop
    with the system check's message, as they should in a real deployment."""
    from migrations_app.backup_crypto import kek_generate

    path = Path(tmp) / "backup-kek"
    kek_generate(path)
    os.environ["BACKUP_KEK_FILE"] = str(path)
    return str(path)
