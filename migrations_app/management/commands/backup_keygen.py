from django.core.management.base import BaseCommand

from migrations_app.backup_crypto import kek_generate, kek_path


class Command(BaseCommand):
    help = (
        "Create the backup key-encryption key (BACKUP_KEK_FILE, mode 0600) when absent, and print "
        "its id. An existing key is never replaced: every creator's backup data key is wrapped by it."
    )
    # Runs before anything else may start: the system check it satisfies must not stop it.
    requires_system_checks: list[str] = []

    def handle(self, *args: object, **options: object) -> None:
        kek_id, created = kek_generate()
        verb = "created" if created else "exists:"
        self.stderr.write(f"backup KEK {verb} {kek_path()} (key id {kek_id})")
        if created:
            self.stderr.write("keep a copy apart from the database backups: without it no backup decrypts")
        self.stdout.write(kek_id)
