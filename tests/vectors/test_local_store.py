"""What only the embedded store has to get right: its file, its per-request limits, bounded
search, and several processes writing at once (or dying half-way)."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import time
from collections.abc import Iterable

import numpy as np
import pytest

from tests.support.vectors import DIM, random_vectors
from twinadmin.vectors import ConfigurationError, InvalidRequest, TransientError, Vector, limits
from twinadmin.vectors.local import LocalStore, stored_bytes

# fork: the children need nothing but the store module, and fork starts them in milliseconds.
FORK = multiprocessing.get_context("fork")


def run_processes(procs: Iterable[multiprocessing.process.BaseProcess], timeout: float = 60) -> None:
    """Start every process, wait for all, and require that each exited cleanly."""
    started = list(procs)
    for proc in started:
        proc.start()
    for proc in started:
        proc.join(timeout)
        assert proc.exitcode == 0


def test_file_keeps_its_dimension_and_metric(tmp_path):
    path = tmp_path / "v.sqlite3"
    LocalStore(path, dimension=DIM, metric="euclidean").upsert("ns", random_vectors(2))

    with pytest.raises(ConfigurationError, match="dimension 8"):
        LocalStore(path, dimension=1536, metric="euclidean")
    with pytest.raises(ConfigurationError, match="metric"):
        LocalStore(path, dimension=DIM, metric="cosine")
    reopened = LocalStore(path)
    assert (reopened.dimension, reopened.metric) == (DIM, "euclidean")
    assert reopened.describe_index_stats().total_vector_count == 2
    with pytest.raises(ConfigurationError, match="holds no index"):
        LocalStore(tmp_path / "new.sqlite3")


def test_store_runs_in_wal_mode(tmp_path):
    store = LocalStore(tmp_path / "v.sqlite3", dimension=DIM, metric="cosine")
    store.upsert("ns", random_vectors(1))
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_store_searches_exactly_and_gains_nothing_from_threads(tmp_path):
    store = LocalStore(tmp_path / "v.sqlite3", dimension=DIM, metric="cosine")
    assert (store.is_exact, store.concurrency_hint) == (True, 1)


def test_request_level_limits_and_batching_above_them(tmp_path):
    store = LocalStore(tmp_path / "v.sqlite3", dimension=DIM, metric="cosine")
    too_many = random_vectors(1001, metadata=False)
    with pytest.raises(InvalidRequest, match="1000 per request"):
        store.upsert_request("ns", too_many)
    with pytest.raises(InvalidRequest, match="bytes"):
        store.upsert_request("ns", too_many[:10], request_bytes=limits.MAX_UPSERT_BYTES + 1)
    assert store.describe_index_stats().total_vector_count == 0

    assert store.upsert("ns", too_many) == 1001


def test_wide_vectors_are_batched_under_two_megabytes(tmp_path):
    store = LocalStore(tmp_path / "v.sqlite3", dimension=1536, metric="cosine")
    vectors = random_vectors(400, dim=1536, metadata=False)
    with pytest.raises(InvalidRequest, match="bytes"):
        store.upsert_request("ns", vectors)  # ~16 KB of JSON per vector: ~6 MB in one request

    sizes = [limits.vector_wire_bytes(v) for v in vectors]
    batches = list(limits.plan_upsert_batches(vectors, sizes))
    assert len(batches) > 2
    assert all(sum(limits.vector_wire_bytes(v) for v in b) < limits.MAX_UPSERT_BYTES for b in batches)
    assert store.upsert("ns", vectors) == 400
    assert store.fetch("ns", [vectors[-1].id])[vectors[-1].id] == vectors[-1]


def test_query_scans_in_small_chunks_with_the_same_result(tmp_path):
    store = LocalStore(tmp_path / "v.sqlite3", dimension=DIM, metric="dotproduct")
    vectors = random_vectors(500, seed=9)
    store.upsert("ns", vectors)
    query = np.random.default_rng(10).standard_normal(DIM)
    whole = store.query("ns", vector=query, top_k=25, filter={"parity": "odd"})

    # The cache off: this store scans the file, 7 rows at a time.
    chunked = LocalStore(store.path, scan_chunk_rows=7, cache_mb=0).query(
        "ns", vector=query, top_k=25, filter={"parity": "odd"}
    )

    assert [m.id for m in chunked] == [m.id for m in whole]
    scores = {v.id: float(np.dot(v.values, query.astype(np.float32))) for v in vectors if v.metadata["i"] % 2}
    assert [m.id for m in whole] == sorted(scores, key=lambda i: -scores[i])[:25]


def test_a_held_write_lock_becomes_a_transient_error(tmp_path):
    path = tmp_path / "v.sqlite3"
    LocalStore(path, dimension=DIM, metric="cosine")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        impatient = LocalStore(path, busy_timeout=0.1)
        with pytest.raises(TransientError, match="busy"):
            impatient.upsert("ns", random_vectors(1))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert impatient.upsert("ns", random_vectors(1)) == 1


def _writer(path: str, worker: int, batches: int, size: int) -> None:
    store = LocalStore(path)
    for batch in range(batches):
        vectors = random_vectors(size, prefix=f"w{worker}-b{batch}-", seed=worker * 1000 + batch)
        store.upsert("shared", vectors)
        store.upsert(f"own-{worker}", vectors[:10])
        # Everyone also rewrites the same hot ids: counts must not drift on overwrites.
        store.upsert("hot", random_vectors(20, prefix="hot-", seed=batch))


def test_several_processes_writing_at_once_lose_nothing(tmp_path):
    path = str(tmp_path / "v.sqlite3")
    LocalStore(path, dimension=DIM, metric="cosine")
    workers, batches, size = 4, 6, 150
    run_processes(FORK.Process(target=_writer, args=(path, w, batches, size)) for w in range(workers))

    store = LocalStore(path)
    expected = {"shared": workers * batches * size, "hot": 20}
    expected |= {f"own-{w}": batches * 10 for w in range(workers)}
    assert store.describe_index_stats().namespaces == expected
    ids = sum(store.iter_id_pages("shared"), [])
    assert len(ids) == len(set(ids)) == workers * batches * size
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM vectors WHERE namespace = 'shared'").fetchone()[0] == len(
            ids
        )


def _big_upsert(path: str, vectors: list[Vector]) -> None:
    LocalStore(path).upsert("big", vectors)


@pytest.mark.parametrize("kill_after_batches", [1, 6, 15])
def test_a_process_killed_mid_upsert_leaves_each_batch_all_or_nothing(tmp_path, kill_after_batches):
    vectors = random_vectors(30_000, dim=64, metadata=True)
    batches = list(limits.plan_upsert_batches(vectors, [stored_bytes(v) for v in vectors]))
    # The kill races the writer: on a busy machine the writer may finish first, or not have
    # committed its first batches by the time the wait gives up (CI's PostgreSQL pass once saw
    # that). Then the scenario did not happen (nothing was interrupted mid-upsert) and it is run
    # again in a fresh store, up to 5 times.
    for attempt in range(5):
        path = str(tmp_path / f"v{attempt}.sqlite3")
        store = LocalStore(path, dimension=64, metric="cosine")
        proc = FORK.Process(target=_big_upsert, args=(path, vectors))
        proc.start()
        # Kill it as soon as it has committed a few batches, while it is writing the next ones.
        deadline = time.monotonic() + 30
        while (
            store.counts().get("big", 0) < kill_after_batches * len(batches[0])
            and time.monotonic() < deadline
        ):
            time.sleep(0.001)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(10)
        assert proc.exitcode == -signal.SIGKILL

        present = set(sum(store.iter_id_pages("big"), []))
        complete = [all(v.id in present for v in batch) for batch in batches]
        if kill_after_batches <= sum(complete) < len(batches):
            break
    untouched = [not any(v.id in present for v in batch) for batch in batches]
    assert all(c or u for c, u in zip(complete, untouched, strict=True))
    # Batches commit in order, so what survived is a prefix of them.
    assert complete == sorted(complete, reverse=True)
    assert kill_after_batches <= sum(complete) < len(batches), "the kill should land mid-upsert"
    assert store.describe_namespace("big").vector_count == len(present)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize("cache_mb", [64, 0], ids=["cached", "scan"])
@pytest.mark.parametrize("metric", ["cosine", "dotproduct", "euclidean"])
def test_values_near_the_float32_limit_score_as_numbers_not_nan(tmp_path, metric, cache_mb):
    # float32 arithmetic overflows on these; a score must stay a number (JSON has no NaN or
    # infinity: pinecone_local would answer `"score": null`, which Pinecone's schema refuses).
    store = LocalStore(tmp_path / "big.sqlite3", dimension=2, metric=metric, cache_mb=cache_mb)
    store.upsert("ns", [Vector("small", [1.0, 2.0]), Vector("huge", [3e38, 3e38])])

    for query in ([3.4e38, 3.4e38], [1.0, 1.0], [1e-30, 1e-30]):
        matches = store.query("ns", vector=query, top_k=2)

        assert len(matches) == 2 and all(np.isfinite(m.score) for m in matches)
        if metric == "cosine":
            assert {m.id: round(m.score, 6) for m in matches}["huge"] == 1.0


@pytest.mark.parametrize("token", [{"next": "x"}, ["x"], 7])
def test_a_pagination_token_that_is_not_a_string_is_refused(tmp_path, token):
    store = LocalStore(tmp_path / "t.sqlite3", dimension=DIM, metric="cosine")
    store.upsert("ns", random_vectors(3))

    with pytest.raises(InvalidRequest, match="pagination token"):
        store.fetch_by_metadata("ns", {"parity": "odd"}, pagination_token=token)
    with pytest.raises(InvalidRequest, match="pagination token"):
        store.list_ids("ns", pagination_token=token)
