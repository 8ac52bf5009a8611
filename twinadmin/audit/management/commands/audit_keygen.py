from django.core.management.base import BaseCommand

from twinadmin.audit.keys import key_generate, key_id, public_key_path, public_key_pem, signing_key_path


class Command(BaseCommand):
    help = (
        "Create the audit signing key (Ed25519, AUDIT_SIGNING_KEY_FILE, mode 0600) when absent, and "
        "print its public key. An existing key is never replaced."
    )

    def handle(self, *args: object, **options: object) -> None:
        public, created = key_generate()
        verb = "created" if created else "exists:"
        self.stderr.write(f"audit signing key {verb} {signing_key_path()} (key id {key_id(public)})")
        if created:
            self.stderr.write(f"public key written to {public_key_path()}")
        self.stdout.write(public_key_pem(public).rstrip())
