"""Store files written by earlier versions (a `make run` user's var/vectors.sqlite3) keep working:
opening one migrates it in place, once, keeping every vector bit for bit."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from tests.support.vectors import DIM, random_vectors
from tests.vectors.test_local_store import FORK, run_processes
from twinadmin.vectors import Vector
from twinadmin.vectors.local import SCHEMA_VERSION, LocalStore

# The layouts earlier versions created, verbatim: schema 1, and the one before it (no sparse
# vectors, no explicitly created namespaces, no schema key).
SCHEMA_1 = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE vectors (namespace TEXT NOT NULL, id TEXT NOT NULL, vals BLOB NOT NULL, metadata TEXT,"
    " sparse BLOB, PRIMARY KEY (namespace, id))",
    "CREATE TABLE created_namespaces (name TEXT PRIMARY KEY, schema TEXT) WITHOUT ROWID",
    "CREATE TABLE namespaces (name TEXT PRIMARY KEY, vector_count INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TRIGGER vectors_count_insert AFTER INSERT ON vectors BEGIN"
    " INSERT INTO namespaces (name, vector_count) VALUES (NEW.namespace, 1)"
    " ON CONFLICT (name) DO UPDATE SET vector_count = vector_count + 1; END",
    "CREATE TRIGGER vectors_count_delete AFTER DELETE ON vectors BEGIN"
    " UPDATE namespaces SET vector_count = vector_count - 1 WHERE name = OLD.namespace;"
    " DELETE FROM namespaces WHERE name = OLD.namespace AND vector_count <= 0; END",
]
SCHEMA_0 = [
    SCHEMA_1[0],
    "CREATE TABLE vectors (namespace TEXT NOT NULL, id TEXT NOT NULL, vals BLOB NOT NULL, metadata TEXT,"
    " PRIMARY KEY (namespace, id))",
    *SCHEMA_1[3:],
]


def _old_file(path, schema: list[str], metric: str = "cosine") -> dict[str, list[Vector]]:
    written = {"creator_a": random_vectors(40, seed=1), "creator_a_twin_t": random_vectors(25, seed=2)}
    with sqlite3.connect(path) as conn:
        for statement in schema:
            conn.execute(statement)
        meta = [("dimension", str(DIM)), ("metric", metric)]
        if schema is SCHEMA_1:
            meta += [("vector_type", "dense"), ("schema", "1")]
        conn.executemany("INSERT INTO meta VALUES (?, ?)", meta)
        for namespace, vectors in written.items():
            conn.executemany(
                "INSERT INTO vectors (namespace, id, vals, metadata) VALUES (?, ?, ?, ?)",
                [(namespace, v.id, v.values.tobytes(), f'{{"i":{v.metadata["i"]}.0}}') for v in vectors],
            )
    return written


def _columns(path, table: str) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


@pytest.mark.parametrize("schema", [SCHEMA_1, SCHEMA_0], ids=["schema-1", "before-schema-1"])
def test_an_old_file_is_migrated_in_place_keeping_every_vector(tmp_path, schema):
    path = tmp_path / "vectors.sqlite3"
    written = _old_file(path, schema)

    store = LocalStore(path, dimension=DIM, metric="cosine")

    assert store.describe_index_stats().namespaces == {"creator_a": 40, "creator_a_twin_t": 25}
    for namespace, vectors in written.items():
        fetched = store.fetch(namespace, [v.id for v in vectors])
        assert [fetched[v.id].values.tobytes() for v in vectors] == [v.values.tobytes() for v in vectors]
    assert {"norm", "sparse"} <= _columns(path, "vectors") and "version" in _columns(path, "namespaces")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() == (SCHEMA_VERSION,)
        assert conn.execute("SELECT COUNT(*) FROM vectors WHERE norm IS NULL").fetchone() == (0,)
        triggers = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert not triggers & {"vectors_count_insert", "vectors_count_delete"}

    # Queries on the migrated file are exact and cached, and see writes.
    query = written["creator_a"][3].values
    assert store.query("creator_a", vector=query, top_k=1)[0].id == written["creator_a"][3].id
    assert "creator_a" in store.matrix_cache.namespaces()
    store.delete_namespace("creator_a")
    store.upsert("creator_a", [Vector("new", query, None)])
    assert [m.id for m in store.query("creator_a", vector=query, top_k=5)] == ["new"]


def _open(path: str) -> None:
    LocalStore(path).upsert("creator_b", random_vectors(3, prefix="b-"))


def test_processes_opening_an_old_file_at_once_migrate_it_once(tmp_path):
    path = tmp_path / "vectors.sqlite3"
    _old_file(path, SCHEMA_1)

    run_processes(FORK.Process(target=_open, args=(str(path),)) for _ in range(3))

    store = LocalStore(path)
    assert store.describe_index_stats().namespaces == {
        "creator_a": 40,
        "creator_a_twin_t": 25,
        "creator_b": 3,
    }


def test_rows_written_without_a_norm_are_still_scored_exactly(tmp_path):
    # A process still running the previous version writes rows the old way (no norm); the
    # triggers it now runs through move the version all the same.
    path = tmp_path / "vectors.sqlite3"
    store = LocalStore(path, dimension=DIM, metric="cosine")
    store.upsert("ns", random_vectors(30))
    query = np.random.default_rng(3).standard_normal(DIM).astype(np.float32)
    store.query("ns", vector=query)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO vectors (namespace, id, vals) VALUES ('ns', 'old-writer', ?)",
            ((query * 7).tobytes(),),
        )

    best = store.query("ns", vector=query, top_k=1)[0]

    assert best.id == "old-writer" and best.score == pytest.approx(1.0, abs=1e-6)
