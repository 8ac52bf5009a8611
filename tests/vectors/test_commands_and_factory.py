"""get_index() from settings, and the seed_legacy / index_stats / pinecone_local commands."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from tests.support.vectors import DIM, pinecone_local_process
from twinadmin.vectors import DEFAULT_NAMESPACE, Vector, get_index, reset_index_cache
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.pinecone_adapter import PineconeIndex

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_cache():
    reset_index_cache()
    yield
    reset_index_cache()


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_get_index_is_cached_per_setting_values(settings, tmp_path):
    first = get_index()
    assert isinstance(first, LocalStore)
    assert first.path == settings.VECTOR_LOCAL_PATH
    assert get_index() is first

    settings.VECTOR_LOCAL_PATH = tmp_path / "other.sqlite3"
    second = get_index()
    assert second is not first and second.path == tmp_path / "other.sqlite3"


def test_get_index_speaks_to_pinecone_when_configured(settings, make_server):
    server = make_server()
    settings.VECTOR_BACKEND = "pinecone"
    settings.PINECONE_INDEX_HOST = server.url
    settings.PINECONE_API_KEY = "test-key"

    index = get_index()
    index.upsert("ns", [Vector("a", np.ones(DIM))])

    assert isinstance(index, PineconeIndex)
    assert server.store.describe_index_stats().namespaces == {"ns": 1}


def test_the_adapter_retry_budget_comes_from_settings(settings, make_server):
    server = make_server()
    settings.VECTOR_BACKEND = "pinecone"
    settings.PINECONE_INDEX_HOST = server.url
    settings.PINECONE_API_KEY = "test-key"
    settings.PINECONE_RETRY_ATTEMPTS = 3
    settings.PINECONE_RETRY_DEADLINE_SECONDS = 7.5
    first = get_index()
    assert (first.retry.attempts, first.retry.deadline) == (3, 7.5)

    settings.PINECONE_RETRY_ATTEMPTS = 1
    assert get_index() is not first and get_index().retry.attempts == 1


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("PINECONE_RETRY_ATTEMPTS", "0", "PINECONE_RETRY_ATTEMPTS must be 1 or more"),
        ("PINECONE_RETRY_DEADLINE_SECONDS", "-1", "PINECONE_RETRY_DEADLINE_SECONDS and "),
        ("PINECONE_PAGE_DEADLINE_SECONDS", "0", "PINECONE_PAGE_DEADLINE_SECONDS positive"),
        ("DRILL_CLEANUP_TIMEOUT_SECONDS", "-5", "DRILL_CLEANUP_TIMEOUT_SECONDS cannot be negative"),
        ("AUDIT_COUNT_CAP", "0", "AUDIT_COUNT_CAP must be 1 or more"),
    ],
)
def test_settings_that_cannot_work_are_refused_at_startup(name, value, message):
    env = {**os.environ, "DEBUG": "1", name: value}
    done = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and message in done.stderr


def test_seed_legacy_recreates_the_seed_layout():
    out = json.loads(run("seed_legacy", "--json"))

    stats = get_index().describe_index_stats()
    assert out["seeded"] is True
    assert stats.total_vector_count == out["total_vector_count"] == 805
    assert len(stats.namespaces) == 30
    assert stats.namespaces[DEFAULT_NAMESPACE] == 376
    named = [n for n in stats.namespaces if n != DEFAULT_NAMESPACE]
    assert all(str(uuid.UUID(n)) == n for n in named)  # bare lowercase UUIDs
    assert len(set(stats.namespaces[n] for n in named)) > 5  # uneven sizes
    some_id = get_index().list_ids(named[0], limit=1).ids[0]
    metadata = get_index().fetch(named[0], [some_id])[some_id].metadata
    assert {"text", "source", "chunk_index", "created_at"} <= set(metadata)


def test_seed_legacy_is_deterministic_for_a_seed(settings, tmp_path):
    def snapshot() -> dict[str, dict[str, bytes]]:
        index = get_index()
        return {
            ns: {
                vid: v.values.tobytes() + repr(v.metadata).encode() for vid, v in index.fetch(ns, ids).items()
            }
            for ns in index.describe_index_stats().namespaces
            for ids in [sum(index.iter_id_pages(ns), [])]
        }

    run("seed_legacy", "--seed", "5", "--vectors", "120", "--default-vectors", "40", "--namespaces", "6")
    first = snapshot()
    settings.VECTOR_LOCAL_PATH = tmp_path / "second.sqlite3"
    run("seed_legacy", "--seed", "5", "--vectors", "120", "--default-vectors", "40", "--namespaces", "6")
    assert snapshot() == first
    settings.VECTOR_LOCAL_PATH = tmp_path / "third.sqlite3"
    run("seed_legacy", "--seed", "6", "--vectors", "120", "--default-vectors", "40", "--namespaces", "6")
    assert snapshot().keys() != first.keys()


def test_seed_legacy_if_empty_leaves_a_filled_index_alone():
    get_index().upsert("existing", [Vector("a", np.ones(DIM))])

    out = run("seed_legacy", "--if-empty")

    assert "nothing seeded" in out
    assert get_index().describe_index_stats().namespaces == {"existing": 1}


def test_seed_legacy_refuses_a_dimension_the_index_does_not_have():
    with pytest.raises(CommandError, match="does not match the index's dimension 8"):
        run("seed_legacy", "--dimension", "1536")
    assert get_index().describe_index_stats().total_vector_count == 0


def test_index_stats_classifies_every_namespace():
    index = get_index()
    legacy = "0b7e2d5c-6f1a-4c3e-9d2b-8a7f6e5d4c3b"
    for n, name in enumerate(["creator_a.1", "creator_a.1_twin_t-1", legacy, "", "Odd Name"]):
        index.upsert(name, [Vector(f"v{i}", np.ones(DIM)) for i in range(n + 1)])

    out = json.loads(run("index_stats", "--json"))
    text = run("index_stats")

    assert out == {
        "dimension": DIM,
        "total_vector_count": 15,
        "namespaces": {
            "Odd Name": {"vector_count": 5, "class": "unknown"},
            "__default__": {"vector_count": 4, "class": "default"},
            legacy: {"vector_count": 3, "class": "legacy-uuid"},
            "creator_a.1": {"vector_count": 1, "class": "creator-wide"},
            "creator_a.1_twin_t-1": {"vector_count": 2, "class": "twin"},
        },
    }
    assert text.startswith("15 vectors in 5 namespaces")
    assert re.search(r"creator_a\.1_twin_t-1\s+2\s+twin", text)


def test_pinecone_local_command_serves_the_sdk(tmp_path):
    store_path, log_path = tmp_path / "served.sqlite3", tmp_path / "requests.jsonl"
    proc = pinecone_local_process(
        *("--port", "0", "--path", str(store_path), "--dimension", "4", "--metric", "euclidean"),
        *("--request-log", str(log_path), "--latency-ms", "1", "--outage-namespace", "down"),
        *("--retry-after", "0"),
    )
    try:
        line = proc.stdout.readline()
        url = re.search(r"at (http://\S+);", line).group(1)
        from pinecone import Pinecone

        sdk_index = Pinecone(api_key="k").Index(host=url)
        sdk_index.upsert(vectors=[("a", [0.0, 0.0, 0.0, 1.0]), ("b", [3.0, 0.0, 0.0, 1.0])], namespace="n")
        result = sdk_index.query(vector=[1.0, 0.0, 0.0, 1.0], top_k=2, namespace="n")
        assert [(m.id, m.score) for m in result.matches] == [("a", 1.0), ("b", 4.0)]  # squared distances
        with pytest.raises(Exception, match="unavailable for upserts"):
            sdk_index.upsert(vectors=[("c", [1.0, 0.0, 0.0, 0.0])], namespace="down")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    deadline = time.monotonic() + 5
    while not log_path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    logged = [json.loads(x) for x in log_path.read_text().splitlines()]
    assert [r["path"] for r in logged[:2]] == ["/vectors/upsert", "/query"]
    # The outage: every attempt (the SDK retries a 503 itself) refused, and nothing written.
    assert {(r["path"], r["namespace"], r["status"]) for r in logged[2:]} == {
        ("/vectors/upsert", "down", 503)
    }
    assert LocalStore(store_path).describe_index_stats().namespaces == {"n": 2}


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_pinecone_local_stops_on_a_signal_even_when_started_with_sigint_ignored(tmp_path, signum):
    # A shell without job control starts background jobs with SIGINT ignored, and a process
    # manager stops with SIGTERM: either way the server stops and its store stays readable.
    proc = pinecone_local_process(
        *("--port", "0", "--grpc-port", "0", "--path", str(tmp_path / "s.sqlite3"), "--dimension", "4"),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        assert "serving" in proc.stdout.readline()
        proc.send_signal(signum)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait()
    assert LocalStore(tmp_path / "s.sqlite3").describe_index_stats().namespaces == {}
