import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from twinadmin.audit.checkpoints import CheckpointError, CheckpointRefused
from twinadmin.audit.keys import AuditKeyError
from twinadmin.erasure.models import ErasureRequest
from twinadmin.erasure.receipts import erasure_receipt_signed


class Command(BaseCommand):
    help = (
        "Print the signed receipt of an erasure request: the receipt, inclusion proofs of its audit "
        "entries against a signed checkpoint, and a detached Ed25519 signature (receipt_verify checks it)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("request_id", type=int)
        parser.add_argument("--json", action="store_true", help="print the signed receipt JSON (the default)")

    def handle(self, *args: Any, **options: Any) -> None:
        erasure = ErasureRequest.objects.filter(pk=options["request_id"]).first()
        if erasure is None:
            raise CommandError(f"no erasure request #{options['request_id']}")
        try:
            document = erasure_receipt_signed(erasure)
        except (AuditKeyError, CheckpointError, CheckpointRefused) as exc:
            raise CommandError(f"cannot sign the receipt: {exc}") from None
        self.stdout.write(json.dumps(document, indent=2, sort_keys=True))
