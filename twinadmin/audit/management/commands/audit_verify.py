import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from twinadmin.audit.checkpoints import checkpoint_dir, checkpoint_files
from twinadmin.audit.keys import AuditKeyError, entry_mac_key, public_key_load
from twinadmin.audit.services import audit_chain_verify
from twinadmin.audit.verify import (
    INVALID,
    UNAUTHENTICATED,
    CheckpointResult,
    ExportError,
    audit_verify_against,
    checkpoints_verify,
    offline_verify,
)


class Command(BaseCommand):
    help = (
        "Walk the audit chain in seq order, recomputing every hash, and check the log against every signed "
        "checkpoint (AUDIT_CHECKPOINT_DIR, or --checkpoint files). Exits 0 when intact and consistent; "
        "otherwise non-zero, naming the first broken entry and each checkpoint the log contradicts. "
        "--offline EXPORT.jsonl checks a whole-log export instead, without the database; "
        "--checkpoints-only checks checkpoint files against each other (consistency proofs)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
        parser.add_argument(
            "--checkpoint", action="append", default=[], metavar="FILE", help="a checkpoint file (repeatable)"
        )
        parser.add_argument(
            "--public-key", metavar="FILE", help="PEM public key (default: the configured key)"
        )
        parser.add_argument("--offline", metavar="EXPORT", help="verify a JSON Lines export; no database")
        parser.add_argument(
            "--checkpoints-only",
            action="store_true",
            help="only the checkpoint files: signatures and consistency proofs between them; no log",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        paths = [Path(p) for p in options["checkpoint"]] or None
        if options["checkpoints_only"]:
            self._checkpoints_only(paths or checkpoint_files(), options)
            return
        if options["offline"]:
            if not (paths and options["public_key"]):
                raise CommandError("--offline needs --checkpoint FILE and --public-key FILE")
            self._offline(Path(options["offline"]), paths, options)
            return
        # No checkpoint written yet (a fresh install): the chain alone is all there is to check.
        key = None if paths is None and not checkpoint_files() else self._key(options["public_key"])
        results: list[CheckpointResult] = []
        if key is None:
            report = audit_chain_verify()
        else:
            report, results = audit_verify_against(paths, key)
            if entry_mac_key() is None:
                self.stderr.write(
                    "no signing key in this process: entries after the newest checkpoint were not "
                    "checked for forgery (their MACs)"
                )
        broken = report.first_broken
        self._finish(
            options,
            {**report.as_dict(), "checkpoints": [r.as_dict() for r in results]},
            chain_ok=report.ok,
            chain_text=(
                f"audit chain intact: {report.entries} entries, head {report.head_hash} "
                f"({report.seconds:.1f} s)"
                if broken is None
                else f"audit chain broken at seq {broken.seq}: {broken.reason}"
                + (f" ({broken.detail})" if broken.detail else "")
                + f"; {report.entries} entries verified before it"
            ),
            results=results,
            no_checkpoints=key is None,
        )

    def _checkpoints_only(self, files: list[Path], options: dict[str, Any]) -> None:
        results = checkpoints_verify(files, self._key(options["public_key"]))
        self._finish(
            options,
            {"checkpoints": [r.as_dict() for r in results]},
            chain_ok=True,
            chain_text=f"{len(files)} checkpoint files read",
            results=results,
            no_checkpoints=not files,
        )

    def _offline(self, export: Path, paths: list[Path], options: dict[str, Any]) -> None:
        key = self._key(options["public_key"])
        try:
            report = offline_verify(export, paths, key)
        except ExportError as exc:
            raise CommandError(f"{export}: {exc}") from None
        broken = report.first_broken
        self._finish(
            options,
            {
                "ok": report.ok,
                "entries": report.entries,
                "head_hash": report.head_hash,
                "first_broken": None if broken is None else {"seq": broken.seq, "reason": broken.reason},
                "checkpoints": [r.as_dict() for r in report.checkpoints],
            },
            chain_ok=broken is None,
            chain_text=(
                f"export chain intact: {report.entries} entries, head {report.head_hash}"
                if broken is None
                else f"export chain broken at seq {broken.seq}: {broken.reason}"
                + (f" ({broken.detail})" if broken.detail else "")
            ),
            results=report.checkpoints,
            no_checkpoints=False,
        )

    def _key(self, path: str | None) -> Any:
        try:
            return public_key_load(path)
        except AuditKeyError as exc:
            raise CommandError(str(exc)) from None

    def _finish(
        self,
        options: dict[str, Any],
        document: dict[str, Any],
        *,
        chain_ok: bool,
        chain_text: str,
        results: list[CheckpointResult],
        no_checkpoints: bool,
    ) -> None:
        failed = [r for r in results if not r.ok]
        if options["json"]:
            self.stdout.write(json.dumps({**document, "ok": chain_ok and not failed}))
        else:
            if chain_ok:
                self.stdout.write(chain_text)
            for r in results:
                if r.ok:
                    self.stdout.write(f"consistent with checkpoint {r.name} (size {r.tree_size})")
            if no_checkpoints:
                self.stderr.write(f"no checkpoints in {checkpoint_dir()}: only the chain was checked")
        verdict = {INVALID: "is unusable", UNAUTHENTICATED: "is followed by forged entries"}
        problems = ([] if chain_ok else [chain_text]) + [
            f"{r.problem}: checkpoint {r.name} {verdict.get(r.problem, 'contradicted')}: {r.detail}"
            for r in failed
        ]
        if problems:
            raise CommandError("; ".join(problems))
