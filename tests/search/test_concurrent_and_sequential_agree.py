"""Querying namespaces concurrently gives exactly what querying them one after another gives,
on the local store and through the SDK against the local server."""

import threading

import numpy as np
import pytest
from django.db import connection

from tests.support.search import CREATOR
from twinadmin.search.services import multi_twin_search

pytestmark = pytest.mark.django_db


def _hits(result):
    return [(h.namespace, h.twin_id, h.id, h.score, h.metadata) for h in result.hits]


@pytest.mark.parametrize("metric", ["cosine", "euclidean"], indirect=True)
@pytest.mark.parametrize("via", ["local", "sdk"])
def test_concurrent_equals_sequential(layout, metric, via, request):
    index = request.getfixturevalue("sdk_index") if via == "sdk" else layout.index
    rng = np.random.default_rng(11)
    for _ in range(5):
        query = rng.standard_normal(8)
        args = {
            "creator_id": CREATOR,
            "vector": query,
            "top_k": 17,
            "filter": {"i": {"$ne": 3}},
            "index": index,
        }
        concurrent = multi_twin_search(**args, concurrent=True, workers=4)
        sequential = multi_twin_search(**args, concurrent=False)

        assert _hits(concurrent) == _hits(sequential)
        assert [n.matches for n in concurrent.namespaces] == [n.matches for n in sequential.namespaces]
        assert concurrent.concurrent and not sequential.concurrent
        assert concurrent.workers == 4 and sequential.workers == 1


@pytest.mark.parametrize("workers", [2, 3, 8])
def test_every_stream_width_gives_the_same_hits_by_id_too(layout, workers):
    args = {"creator_id": CREATOR, "vector_id": "doc-014", "top_k": 30}  # doc-014: only t1 has it
    assert multi_twin_search(**args, workers=workers).query_found_in == ("creator_acme_twin_t1",)
    assert _hits(multi_twin_search(**args, workers=workers)) == _hits(
        multi_twin_search(**args, concurrent=False)
    )


def test_the_backend_decides_the_default_width(layout, sdk_index):
    # The local store is CPU-bound in this process: one namespace at a time. Over HTTP the round
    # trips overlap: every namespace at once (4 here, within the pool's 8).
    local = multi_twin_search(creator_id=CREATOR, vector=np.ones(8))
    remote = multi_twin_search(creator_id=CREATOR, vector=np.ones(8), index=sdk_index)
    assert (local.workers, local.concurrent) == (1, False)
    assert (remote.workers, remote.concurrent) == (4, True)
    assert _hits(local) == _hits(remote)


@pytest.mark.django_db(transaction=True)  # the request threads read the registry on their own connections
def test_many_searches_at_once_all_get_the_right_answer(layout):
    """Web requests share one bounded pool; eight searches at once must not mix results."""
    queries = [np.random.default_rng(seed).standard_normal(8) for seed in range(8)]
    expected = [
        _hits(multi_twin_search(creator_id=CREATOR, vector=q, top_k=9, concurrent=False)) for q in queries
    ]
    got: dict[int, list] = {}
    errors: list[BaseException] = []

    def search(i: int) -> None:
        try:
            got[i] = _hits(
                multi_twin_search(creator_id=CREATOR, vector=queries[i], top_k=9, index=layout.index)
            )
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=search, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert [got[i] for i in range(8)] == expected
