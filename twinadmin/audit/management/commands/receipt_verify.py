from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from twinadmin.audit.keys import AuditKeyError, public_key_load
from twinadmin.audit.proofs import ProofDocumentError, proof_document_parse
from twinadmin.erasure.receipts import erasure_receipt_check


class Command(BaseCommand):
    help = (
        "Check a signed erasure receipt (erasure_receipt --json): its signature and the inclusion proof of "
        "each audit entry against the checkpoint it carries. Needs only the file and the public key; exits "
        "non-zero, saying what failed, if anything in it was changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument(
            "--public-key", metavar="FILE", help="PEM public key (default: the configured key)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            key = public_key_load(options["public_key"])
            document = proof_document_parse(Path(options["file"]).read_bytes())
        except (AuditKeyError, ProofDocumentError) as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"cannot read {options['file']}: {exc.strerror}") from None
        problems = erasure_receipt_check(document, key)
        if problems:
            raise CommandError("receipt NOT valid: " + "; ".join(problems))
        body, proof = document["body"], document["audit_proof"]
        self.stdout.write(
            f"receipt valid: request #{body.get('request_id')} "
            f"({body.get('creator_id')}, {body.get('status')}), "
            f"{len(proof['entries'])} audit entries included in the log of size "
            f"{proof['checkpoint']['checkpoint']['tree_size']}, signed by key {document['key_id']}"
        )
