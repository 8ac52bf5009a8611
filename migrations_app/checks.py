"""System checks of the migrations app: the backup key-encryption key must be there before a web
process or worker starts, or every backup (and so every migration) would fail at its first
write with the same message."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from migrations_app.backup_crypto import FileKekProvider, KekError, kek_path


@register()
def backup_kek_present(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    try:
        FileKekProvider(kek_path()).kek_id()
    except KekError as exc:
        return [
            Error(
                str(exc),
                hint="Run `manage.py backup_keygen` once (it never replaces a key), or set "
                "BACKUP_KEK_FILE to the mounted key; see the README's 'Backups' section.",
                id="migrations_app.E001",
            )
        ]
    return []
