"""The local store's query cache: a query answered from a cached matrix is never stale, whoever
wrote the file and however, stays exact for every metric and filter, and the memory bound holds.

"Fresh" below means the answer of a store with the cache off (`cache_mb=0`: a scan of the file)
or brute force in numpy; "cached" means the store answered from its matrix (checked through
`matrix_cache`, so a test cannot pass by quietly scanning)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.support.vectors import DIM, random_vectors
from twinadmin.vectors import ConfigurationError, Vector
from twinadmin.vectors.filters import matches
from twinadmin.vectors.local import LocalStore

FORK = multiprocessing.get_context("fork")
NS = "creator_a_twin_t"


def _answer(store: LocalStore, query: np.ndarray, **kwargs) -> list[tuple[str, float]]:
    return [(m.id, m.score) for m in store.query(NS, vector=query, top_k=kwargs.pop("top_k", 10), **kwargs)]


def _assert_same(got: list[tuple[str, float]], expected: list[tuple[str, float]]) -> None:
    assert [i for i, _ in got] == [i for i, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], rtol=1e-5, atol=1e-5)


def _brute_force(
    vectors: list[Vector], query: np.ndarray, metric: str, top_k: int, filter: dict | None = None
) -> list[tuple[str, float]]:
    kept = [v for v in vectors if matches(filter, v.metadata)]
    values = np.array([v.values for v in kept], dtype=np.float64)
    q = query.astype(np.float64)
    if metric == "cosine":
        scores = values @ q / (np.linalg.norm(values, axis=1) * np.linalg.norm(q))
    elif metric == "dotproduct":
        scores = values @ q
    else:
        scores = ((values - q) ** 2).sum(axis=1)
    sign = 1 if metric == "euclidean" else -1
    order = sorted(range(len(kept)), key=lambda i: (sign * scores[i], kept[i].id))[:top_k]
    return [(kept[i].id, float(scores[i])) for i in order]


@pytest.fixture
def stores(tmp_path):
    """A reader with a warm cache and a second store object (the writer) on the same file."""
    path = tmp_path / "v.sqlite3"
    reader = LocalStore(path, dimension=DIM, metric="cosine", cache_mb=64)
    writer = LocalStore(path, cache_mb=64)
    writer.upsert(NS, random_vectors(300, seed=1))
    yield reader, writer, LocalStore(path, cache_mb=0)
    for store in (reader, writer):
        store.close()


QUERY = np.random.default_rng(5).standard_normal(DIM).astype(np.float32)


def _upsert_new_best(w: LocalStore) -> None:
    w.upsert(NS, [Vector("new-best", QUERY, {"parity": "odd"})])


def _overwrite_with_the_query(w: LocalStore) -> None:
    w.upsert(NS, [Vector("v-00007", QUERY * 3, {"parity": "odd"})])


def _update_values(w: LocalStore) -> None:
    assert w.update(NS, "v-00011", values=QUERY)


def _update_metadata(w: LocalStore) -> None:
    best = w.query(NS, vector=QUERY, top_k=1)[0].id
    assert w.update(NS, best, set_metadata={"parity": "none"})


def _update_by_filter(w: LocalStore) -> None:
    assert w.update_by_filter(NS, {"parity": "odd"}, {"parity": "gone"}) == 150


def _delete_best(w: LocalStore) -> None:
    w.delete_ids(NS, [m.id for m in w.query(NS, vector=QUERY, top_k=3)])


def _delete_by_filter(w: LocalStore) -> None:
    assert w.delete_by_filter(NS, {"parity": "even"}) == 150


def _delete_all(w: LocalStore) -> None:
    assert w.delete_all(NS)


def _delete_namespace_then_write_it_again(w: LocalStore) -> None:
    # Emptied and refilled with as many rows, same ids, other values: a version kept in the
    # namespace's row would restart here if the row went with the namespace.
    assert w.delete_namespace(NS)
    w.upsert(NS, random_vectors(300, seed=2))


FILTERS = {"all": None, "odd": {"parity": "odd"}, "relabelled": {"parity": {"$in": ["none", "gone"]}}}
WRITES: list[Callable[[LocalStore], None]] = [
    _upsert_new_best,
    _overwrite_with_the_query,
    _update_values,
    _update_metadata,
    _update_by_filter,
    _delete_best,
    _delete_by_filter,
    _delete_all,
    _delete_namespace_then_write_it_again,
]


@pytest.mark.parametrize("write", WRITES, ids=[w.__name__.strip("_") for w in WRITES])
@pytest.mark.parametrize("writer_is", ["another store object", "the reader itself"])
def test_every_kind_of_write_is_seen_by_the_next_cached_query(stores, write, writer_is):
    reader, writer, fresh = stores
    before = {key: _answer(reader, QUERY, top_k=20, filter=f) for key, f in FILTERS.items()}
    assert NS in reader.matrix_cache.namespaces()

    write(writer if writer_is == "another store object" else reader)

    after = {key: _answer(reader, QUERY, top_k=20, filter=f) for key, f in FILTERS.items()}
    for key, filter in FILTERS.items():
        _assert_same(after[key], _answer(fresh, QUERY, top_k=20, filter=filter))
    assert after != before, "each of these writes changes one of the answers"
    assert NS in reader.matrix_cache.namespaces(), "answered from the (reloaded) cache"


def _write_from_another_process(path: str) -> None:
    LocalStore(path).upsert(NS, [Vector("from-the-worker", QUERY, None)])


def test_a_write_by_another_process_is_seen_by_the_next_cached_query(stores):
    reader, writer, _ = stores
    _answer(reader, QUERY)
    assert NS in reader.matrix_cache.namespaces()

    child = FORK.Process(target=_write_from_another_process, args=(str(writer.path),))
    child.start()
    child.join(30)
    assert child.exitcode == 0

    assert _answer(reader, QUERY, top_k=1)[0][0] == "from-the-worker"


def test_a_write_to_another_namespace_keeps_the_cached_matrix(stores):
    reader, writer, _ = stores
    _answer(reader, QUERY)
    version = reader.matrix_cache.namespaces()[NS]

    writer.upsert("creator_b", random_vectors(5))
    _answer(reader, QUERY)

    assert reader.matrix_cache.namespaces()[NS] == version


@pytest.mark.parametrize("metric", ["cosine", "dotproduct", "euclidean"])
@pytest.mark.parametrize(
    "filter",
    [None, {"parity": "odd"}, {"i": {"$lt": 17}}, {"$or": [{"i": {"$gte": 590}}, {"parity": "even"}]}],
    ids=["no-filter", "half", "selective", "or"],
)
def test_cached_queries_are_exact_for_every_metric_and_filter(tmp_path, metric, filter):
    store = LocalStore(tmp_path / "v.sqlite3", dimension=DIM, metric=metric, cache_mb=64)
    vectors = random_vectors(600, seed=3)
    store.upsert(NS, vectors)
    rng = np.random.default_rng(4)

    for top_k in (1, 10, 600):
        query = rng.standard_normal(DIM).astype(np.float32)
        _assert_same(
            _answer(store, query, top_k=top_k, filter=filter),
            _brute_force(vectors, query, metric, top_k, filter),
        )
    assert NS in store.matrix_cache.namespaces()


def test_euclidean_stays_exact_where_the_fast_formula_cancels(tmp_path):
    # Far from the origin and close together: |x|² − 2x·q + |q|² in float32 loses every digit
    # that tells these apart; the answer must still be the scan's, score for score.
    rng = np.random.default_rng(6)
    centre = rng.standard_normal(DIM) * 1000
    vectors = [Vector(f"p-{i:03d}", centre + rng.standard_normal(DIM) * 1e-3, None) for i in range(400)]
    cached = LocalStore(tmp_path / "e.sqlite3", dimension=DIM, metric="euclidean", cache_mb=64)
    cached.upsert(NS, vectors)
    scan = LocalStore(cached.path, cache_mb=0)

    for _ in range(5):
        query = (centre + rng.standard_normal(DIM) * 1e-3).astype(np.float32)
        got = cached.query(NS, vector=query, top_k=10)
        assert [(m.id, m.score) for m in got] == [
            (m.id, m.score) for m in scan.query(NS, vector=query, top_k=10)
        ]
    assert NS in cached.matrix_cache.namespaces()


def test_ties_are_broken_by_id_as_the_scan_breaks_them(tmp_path):
    store = LocalStore(tmp_path / "t.sqlite3", dimension=DIM, metric="dotproduct", cache_mb=64)
    same = np.ones(DIM, np.float32)
    store.upsert(NS, [Vector(f"tie-{i:02d}", same, None) for i in (5, 3, 9, 1, 7)] + random_vectors(50))
    scan = LocalStore(store.path, cache_mb=0, scan_chunk_rows=3)

    assert [m.id for m in store.query(NS, vector=same * 100, top_k=3)] == ["tie-01", "tie-03", "tie-05"]
    assert _answer(store, same * 100, top_k=3) == _answer(scan, same * 100, top_k=3)


def test_a_namespace_larger_than_the_bound_is_answered_exactly_without_caching(tmp_path):
    vectors = random_vectors(500, seed=7)
    # 500 rows of 8 float32 values and their ids: well over 10 KB.
    store = LocalStore(tmp_path / "b.sqlite3", dimension=DIM, metric="cosine", cache_mb=0.01)
    store.upsert(NS, vectors)
    query = np.random.default_rng(8).standard_normal(DIM).astype(np.float32)

    _assert_same(_answer(store, query, top_k=25), _brute_force(vectors, query, "cosine", 25))
    assert store.matrix_cache.namespaces() == {} and store.matrix_cache.nbytes == 0


def test_the_bound_holds_across_namespaces_least_recently_used_out(tmp_path):
    # Each namespace below takes about 0.18 MB cached: two fit in the bound, three do not.
    store = LocalStore(tmp_path / "l.sqlite3", dimension=DIM, metric="cosine", cache_mb=0.45)
    written = {name: random_vectors(800, seed=seed) for seed, name in enumerate(["a", "b", "c"])}
    for name, vectors in written.items():
        store.upsert(name, vectors)
    query = np.random.default_rng(9).standard_normal(DIM).astype(np.float32)

    for name in ["a", "b", "a", "c"]:
        got = [(m.id, m.score) for m in store.query(name, vector=query, top_k=5)]
        _assert_same(got, _brute_force(written[name], query, "cosine", 5))
        assert store.matrix_cache.nbytes <= 0.45 * 2**20

    assert list(store.matrix_cache.namespaces()) == ["a", "c"]  # b was the least recently used


def test_sparse_and_hybrid_queries_bypass_the_cache_and_stay_exact(tmp_path):
    store = LocalStore(tmp_path / "h.sqlite3", dimension=DIM, metric="dotproduct", cache_mb=64)
    vectors = [
        Vector(
            f"h-{i}", np.full(DIM, 0.01 * i, np.float32), None, {"indices": [i, 1000], "values": [1.0, 0.5]}
        )
        for i in range(20)
    ]
    store.upsert(NS, vectors)
    dense = store.query(NS, vector=np.ones(DIM), top_k=1)  # fills the cache

    hybrid = store.query(NS, vector=np.ones(DIM), sparse_vector={"indices": [3], "values": [100.0]}, top_k=1)

    assert dense[0].id == "h-19" and hybrid[0].id == "h-3"
    assert hybrid[0].score == pytest.approx(0.03 * DIM + 100.0, rel=1e-6)


def test_a_negative_cache_bound_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="cache"):
        LocalStore(tmp_path / "n.sqlite3", dimension=DIM, metric="cosine", cache_mb=-1)


def test_the_cache_bound_comes_from_the_setting(settings, tmp_path):
    settings.VECTOR_LOCAL_CACHE_MB = 3
    store = LocalStore(tmp_path / "s.sqlite3", dimension=DIM, metric="cosine")

    assert store.matrix_cache.max_bytes == 3 * 2**20


def test_threads_querying_one_namespace_at_once_get_the_same_exact_answer(tmp_path):
    store = LocalStore(tmp_path / "c.sqlite3", dimension=DIM, metric="cosine", cache_mb=64)
    vectors = random_vectors(2000, seed=11)
    store.upsert(NS, vectors)
    query = np.random.default_rng(12).standard_normal(DIM).astype(np.float32)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _answer(store, query), range(16)))

    assert all(answer == answers[0] for answer in answers)
    _assert_same(answers[0], _brute_force(vectors, query, "cosine", 10))
    assert list(store.matrix_cache.namespaces()) == [NS]


def _query_in_child(store: LocalStore, query: np.ndarray, out) -> None:
    out.put((store.matrix_cache.namespaces(), _answer(store, query)))


def test_a_forked_worker_starts_with_an_empty_cache_and_answers_the_same(stores):
    reader, _, _ = stores
    expected = _answer(reader, QUERY)
    out = FORK.Queue()

    child = FORK.Process(target=_query_in_child, args=(reader, QUERY, out))
    child.start()
    inherited, answer = out.get(timeout=30)
    child.join(30)

    assert inherited == {} and answer == expected
