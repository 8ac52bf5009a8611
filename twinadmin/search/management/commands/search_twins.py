import json

from django.core.management.base import BaseCommand, CommandError

from twinadmin.search.errors import SearchError
from twinadmin.search.services import multi_twin_search


class Command(BaseCommand):
    help = (
        "Search a creator's twins (and creator-wide namespace) at once, by a stored vector id or a "
        "pasted vector; hits merged by score, each with its namespace and twin."
    )

    def add_arguments(self, parser):
        parser.add_argument("creator_id")
        query = parser.add_mutually_exclusive_group(required=True)
        query.add_argument("--id", dest="vector_id", help="search by the values of this stored vector")
        query.add_argument("--vector", help="search by this vector, a JSON array of numbers")
        parser.add_argument("--twins", help="comma-separated twin ids (default: every active twin)")
        parser.add_argument("--no-shared", action="store_true", help="leave out the creator-wide namespace")
        parser.add_argument("--top-k", type=int, default=10)
        parser.add_argument("--filter", help='metadata filter as JSON, e.g. \'{"source": {"$eq": "x"}}\'')
        parser.add_argument("--sequential", action="store_true", help="query namespaces one after another")
        parser.add_argument(
            "--workers", type=int, help="namespaces queried at a time (default: what suits the backend)"
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        twins = None
        if options["twins"] is not None:
            twins = [t.strip() for t in options["twins"].split(",") if t.strip()]
        try:
            result = multi_twin_search(
                creator_id=options["creator_id"],
                twin_ids=twins,
                include_shared=not options["no_shared"],
                vector=options["vector"],
                vector_id=options["vector_id"],
                top_k=options["top_k"],
                filter=options["filter"],
                concurrent=not options["sequential"],
                workers=options["workers"],
            )
        except SearchError as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), sort_keys=True))
            return
        mode = f"concurrently, {result.workers} threads" if result.concurrent else "sequentially"
        self.stdout.write(
            f"{len(result.hits)} hits from {len(result.namespaces)} namespaces of {result.creator_id} "
            f"(metric {result.metric}, top_k {result.top_k})"
        )
        for rank, hit in enumerate(result.hits, start=1):
            self.stdout.write(f"{rank:>4}  {hit.score:>12.6f}  {hit.owner:<24} {hit.namespace:<48} {hit.id}")
        self.stdout.write("per namespace:")
        for n in result.namespaces:
            self.stdout.write(f"  {n.namespace:<52} {n.matches:>6} matches {n.latency_ms:>9.2f} ms")
        self.stdout.write(
            f"total {result.total_ms:.2f} ms (lookup {result.fetch_ms:.2f} ms, "
            f"queries {result.query_ms:.2f} ms {mode}; {result.sum_ms:.2f} ms summed)"
        )
