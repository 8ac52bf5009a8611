"""Plan, back up, copy, verify and cut over legacy namespaces onto a creator, in one go.

By default the run executes in this process through the same phase code a worker runs;
`--async` hands it to the workers and returns the run id. Exit status 0 only when every
namespace was verified and cut over."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from migrations_app.management.commands._output import execute_here_or_queued
from migrations_app.models import NamespaceMigration
from migrations_app.planning import PlanError
from migrations_app.selectors import plan_report
from migrations_app.services import migration_create, migration_enqueue, migration_preview
from twinadmin.vectors import VectorError

ACTOR = "cli:map_to_test_creator"


class Command(BaseCommand):
    help = "Map legacy namespaces (bare UUIDs, __default__) onto a creator's twins, verified."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("creator_id")
        parser.add_argument("--namespaces", nargs="+", metavar="NS", help="default: every legacy namespace")
        parser.add_argument(
            "--default-namespace",
            choices=NamespaceMigration.DefaultPolicy.values,
            default=NamespaceMigration.DefaultPolicy.CREATOR,
            help="what happens to __default__ (default: copy into creator_{id})",
        )
        parser.add_argument(
            "--naming", choices=NamespaceMigration.Naming.values, default=NamespaceMigration.Naming.UUID
        )
        parser.add_argument("--delete-source", action="store_true", help="delete each source once verified")
        parser.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
        parser.add_argument("--json", action="store_true")
        parser.add_argument(
            "--async", dest="run_async", action="store_true", help="hand the run to the workers"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        plan_args = {
            "creator_id": options["creator_id"],
            "namespaces": options["namespaces"],
            "default_policy": options["default_namespace"],
            "naming": options["naming"],
            "delete_source": options["delete_source"],
            # Naming the creator on the command line is the confirmation to register it.
            "create_creator": True,
        }
        as_json = options["json"]
        try:
            if options["dry_run"]:
                self._dry_run(migration_preview(**plan_args), as_json=as_json)
                return
            run = migration_create(actor=ACTOR, **plan_args)
        except PlanError as exc:
            raise CommandError(str(exc)) from None
        except VectorError as exc:
            raise CommandError(f"The vector index failed: {exc}") from None
        if options["run_async"]:
            migration_enqueue(run=run)
        ok = NamespaceMigration.Status.SUCCEEDED
        execute_here_or_queued(self, run, queued=options["run_async"], ok_status=ok, as_json=as_json)

    def _dry_run(self, plan, *, as_json: bool) -> None:
        if as_json:
            self.stdout.write(json.dumps(plan_report(plan), sort_keys=True))
        else:
            state = "exists" if plan.creator_exists else "would be created"
            self.stdout.write(f"Dry run for creator {plan.creator_id} ({state}); nothing is changed.")
            for row in plan.rows:
                target = row.target or "(delete after backup)"
                note = f"  !! {'; '.join(row.conflicts)}" if row.conflicts else ""
                self.stdout.write(f"  {row.source:<38} -> {target:<70} {row.source_count:>7}{note}")
            for name in plan.kept:
                self.stdout.write(f"  {name:<38} kept as is")
            for error in plan.errors:
                self.stdout.write(f"  error: {error}")
            self.stdout.write(
                f"{len(plan.rows)} namespaces, {plan.vector_count} vectors, {plan.twin_count} twins."
            )
        if not plan.ok:
            raise CommandError("The plan has problems: " + "; ".join(plan.problems))
