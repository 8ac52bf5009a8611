"""An independent reader of a Pinecone index, for checking an erasure from outside the product.

It talks to the index only through the official `pinecone` SDK (no code of twinadmin's vector
layer, no database), regenerates the seed's original vectors, and looks for every one of them in
every namespace by id and by value. Exit 0 when none is found (or, with --expect-all, when all
are). Usage:

    .venv/bin/python scripts/independent_check.py --host http://127.0.0.1:5081 [--dimension 1536]
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

import numpy as np
from pinecone import Pinecone

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from twinadmin.vectors.seed import generate_legacy_seed  # noqa: E402  (the seed's generator only)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--api-key", default=os.environ.get("PINECONE_API_KEY", "any"))
    parser.add_argument("--dimension", type=int, default=1536)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--expect-all", action="store_true", help="exit 0 only if every original is found")
    args = parser.parse_args()

    seed = generate_legacy_seed(dimension=args.dimension, seed=args.seed)
    originals = {v.id: np.asarray(v.values, dtype=np.float32) for vs in seed.namespaces.values() for v in vs}
    index = Pinecone(api_key=args.api_key).Index(host=args.host)

    stats = index.describe_index_stats()
    found: Counter[str] = Counter()
    others: Counter[str] = Counter()
    distinct: set[str] = set()
    for name in sorted(stats.namespaces):
        sdk_name = "" if name == "__default__" else name
        ids = [item.id for page in index.list(namespace=sdk_name) for item in page.vectors]
        for start in range(0, len(ids), 100):
            fetched = index.fetch(ids=ids[start : start + 100], namespace=sdk_name).vectors
            for vector_id, vector in fetched.items():
                values = np.asarray(vector.values, dtype=np.float32)
                original = originals.get(vector_id)
                if original is not None and np.array_equal(original, values):
                    found[name] += 1
                    distinct.add(vector_id)
                else:
                    others[name] += 1
    print(f"index: {len(stats.namespaces)} namespaces, {stats.total_vector_count} vectors counted")
    print(
        f"seed originals: {len(originals)}; {len(distinct)} of them found, "
        f"{sum(found.values())} copies in {len(found)} namespaces"
    )
    for name, n in sorted(found.items()):
        print(f"  original vectors in {name}: {n}")
    print(f"other vectors: {sum(others.values())}")
    for name, n in sorted(others.items()):
        print(f"  other vectors in {name}: {n}")
    if args.expect_all:
        return 0 if len(distinct) == len(originals) else 1
    return 0 if not found else 1


if __name__ == "__main__":
    sys.exit(main())
