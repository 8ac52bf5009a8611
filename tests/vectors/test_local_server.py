"""The local server speaks Pinecone's data plane: the SDK's own client works against it unchanged,
errors have Pinecone's shape, and injected faults behave like the real service's."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import httpx
import numpy as np
import pytest

from tests.support.vectors import DIM, adapter_for, random_vectors
from twinadmin.vectors import NotFound, Vector
from twinadmin.vectors.server import FaultConfig

HEADERS = {"Api-Key": "any-key", "X-Pinecone-Api-Version": "2026-07"}


def test_a_plain_pinecone_sdk_script_works_unchanged(make_server, tmp_path):
    server = make_server()
    script = textwrap.dedent(
        """
        import json, sys
        from pinecone import Pinecone

        pc = Pinecone(api_key="whatever")
        index = pc.Index(host=sys.argv[1])
        index.upsert(
            vectors=[
                ("a", [0.1] * 8, {"genre": "drama", "year": 2020}),
                {"id": "b", "values": [0.2, 0.1] * 4, "metadata": {"genre": "comedy"}},
                ("c", [-0.3] * 8),
            ],
            namespace="films",
        )
        index.upsert(vectors=[("d", [1.0] * 8)])
        out = {}
        out["fetch"] = sorted(index.fetch(ids=["a", "b", "zz"], namespace="films").vectors)
        res = index.query(vector=[0.1] * 8, top_k=2, namespace="films", include_metadata=True,
                          filter={"genre": {"$in": ["drama", "comedy"]}})
        out["query"] = [(m.id, round(m.score, 4), m.metadata) for m in res.matches]
        out["by_id"] = [m.id for m in index.query(id="a", top_k=3, namespace="films").matches]
        out["list"] = [[v.id for v in page.vectors] for page in index.list(namespace="films", limit=2)]
        stats = index.describe_index_stats()
        out["stats"] = {n: s.vector_count for n, s in stats.namespaces.items()}
        out["dimension"] = stats.dimension
        out["namespaces"] = sorted(
            (ns.name, ns.record_count) for page in index.list_namespaces() for ns in page.namespaces
        )
        out["describe"] = index.describe_namespace(name="films").record_count
        index.delete(ids=["c"], namespace="films")
        index.update(id="a", set_metadata={"year": 2021}, namespace="films")
        out["updated"] = index.fetch(ids=["a"], namespace="films").vectors["a"].metadata
        index.delete(delete_all=True)
        index.delete_namespace(name="films")
        try:
            index.delete_namespace(name="films")
        except Exception as exc:
            out["second_delete"] = type(exc).__name__
        out["after"] = index.describe_index_stats().total_vector_count
        print(json.dumps(out))
        """
    )
    path = tmp_path / "plain_script.py"
    path.write_text(script)

    result = subprocess.run(
        [sys.executable, str(path), server.url], capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["fetch"] == ["a", "b"]
    assert [hit[0] for hit in out["query"]] == ["a", "b"]
    assert out["query"][0][1] == pytest.approx(1.0, abs=1e-4)
    assert out["query"][0][2] == {"genre": "drama", "year": 2020.0}
    assert out["by_id"] == ["a", "b", "c"]
    assert out["list"] == [["a", "b"], ["c"]]
    assert out["stats"] == {"__default__": 1, "films": 3}
    assert out["dimension"] == DIM
    assert out["namespaces"] == [["__default__", 1], ["films", 3]]
    assert out["describe"] == 3
    assert out["updated"] == {"genre": "drama", "year": 2021.0}
    assert out["second_delete"] == "NotFoundError"
    assert out["after"] == 0


def test_errors_have_pinecone_shape_and_status(make_server):
    server = make_server()
    with httpx.Client(base_url=server.url, headers=HEADERS) as client:
        ok = client.post("/describe_index_stats", json={})
        no_key = client.post("/describe_index_stats", json={}, headers={"Api-Key": ""})
        unknown_field = client.post("/vectors/upsert", json={"vectors": [], "bogus": 1})
        wrong_dim = client.post("/vectors/upsert", json={"vectors": [{"id": "a", "values": [1.0, 2.0]}]})
        missing_ns = client.get("/namespaces/nope")
        too_many = client.post(
            "/vectors/upsert", json={"vectors": [{"id": f"v{i}", "values": [1.0] * DIM} for i in range(1001)]}
        )
        too_big = client.post(
            "/vectors/upsert",
            json={
                "vectors": [{"id": "a", "values": [1.0] * DIM, "metadata": {"t": "x" * (2 * 1024 * 1024)}}]
            },
        )
        stringly = client.post("/query", json={"topK": "3", "vector": [1.0] * DIM})

    assert ok.status_code == 200
    assert ok.headers["X-Pinecone-Api-Version"] == "2026-07"
    assert ok.json() == {
        "namespaces": {},
        "dimension": DIM,
        "indexFullness": 0.0,
        "totalVectorCount": 0,
        "metric": "cosine",
        "vectorType": "dense",
    }
    assert no_key.status_code == 401
    for response in (unknown_field, wrong_dim, too_many, stringly):
        assert response.status_code == 400
        assert response.json()["code"] == 3
        assert set(response.json()) == {"code", "message", "details"}
    assert "does not match the dimension of the index" in wrong_dim.json()["message"]
    assert missing_ns.status_code == 404
    assert missing_ns.json()["code"] == 5
    # Pinecone answers an oversized request 400 with its size message (not 413).
    assert too_big.status_code == 400
    assert too_big.json()["message"].startswith(
        "Request size 2.0MB exceeds the maximum supported size of 2MB"
    )
    assert server.store.describe_index_stats().total_vector_count == 0


def test_adapter_completes_everything_despite_30_percent_429_and_503(make_server):
    server = make_server(faults=FaultConfig(fail_429=0.15, fail_503=0.15, retry_after=0, seed=7))
    index = adapter_for(server)
    vectors = random_vectors(1200, metadata=True)

    assert index.upsert("ns", vectors) == 1200
    fetched = index.fetch("ns", [v.id for v in vectors])
    listed = sum(index.iter_id_pages("ns"), [])
    assert index.delete_namespace("ns") is True

    assert len(fetched) == 1200
    assert all(fetched[v.id] == v for v in vectors)
    assert listed == sorted(v.id for v in vectors)
    assert server.request_count(status=429) > 0
    assert server.request_count(status=503) > 0


def test_rate_limits_surface_as_rate_limited_with_retry_after_when_the_deadline_runs_out(make_server):
    from twinadmin.vectors import RateLimited
    from twinadmin.vectors.pinecone_adapter import RetryPolicy

    server = make_server(faults=FaultConfig(fail_429=1.0, retry_after=0))
    index = adapter_for(server, retry=RetryPolicy(attempts=2, initial_wait=0.01, max_wait=0.01, deadline=0.3))

    started = time.monotonic()
    with pytest.raises(RateLimited) as caught:
        index.describe_index_stats()
    assert caught.value.retry_after == 0
    # Throttled, it kept trying past its 2 attempts until the deadline (as a paced client must).
    assert time.monotonic() - started >= 0.3 and server.request_count(status=429) > 2


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_counts_lag_writes_and_deletes_then_converge(make_server):
    server = make_server(faults=FaultConfig(count_lag_seconds=1.0))
    index = adapter_for(server)

    index.upsert("ns", random_vectors(10))
    # Data is there at once; only the counts lag, as on Pinecone.
    assert len(index.fetch("ns", ["v-00000", "v-00009"])) == 2
    assert index.describe_index_stats().namespaces == {}
    with pytest.raises(NotFound):
        index.describe_namespace("ns")
    assert wait_for(lambda: index.describe_index_stats().namespaces == {"ns": 10})
    assert index.describe_namespace("ns").vector_count == 10

    assert index.delete_namespace("ns") is True
    assert index.describe_index_stats().namespaces == {"ns": 10}  # stale, still counted
    assert wait_for(lambda: index.describe_index_stats().namespaces == {})
    assert [ns.name for ns in index.iter_namespaces()] == []


def test_settled_counts_see_through_counts_that_lag_writes_and_deletes(make_server):
    server = make_server(faults=FaultConfig(count_lag_seconds=1.0))
    index = adapter_for(server)

    index.upsert("ns", random_vectors(150, metadata=False))
    assert index.namespace_count("ns") == 0  # the count has not caught up yet
    assert index.has_ids("ns")
    assert index.namespace_count_settled("ns") == 150  # the listing sees the writes at once

    assert wait_for(lambda: index.namespace_count("ns") == 150)
    index.delete_namespace("ns")
    assert index.namespace_count("ns") == 150  # stale
    assert index.namespace_count_settled("ns") == 150  # a non-zero count is taken as it is
    assert wait_for(lambda: index.namespace_count_settled("ns") == 0)


def test_an_outage_refuses_writes_to_its_namespaces_only_and_ends_when_its_time_is_up(make_server):
    from twinadmin.vectors import TransientError
    from twinadmin.vectors.pinecone_adapter import RetryPolicy

    server = make_server()
    index = adapter_for(server, retry=RetryPolicy(attempts=1, initial_wait=0, max_wait=0))
    index.upsert("down", random_vectors(4))
    index.upsert("up", random_vectors(4))
    server.set_faults(outage_namespaces={"down"}, outage_seconds=1.5, retry_after=0.01)

    with pytest.raises(TransientError, match="unavailable for deletes"):
        index.delete_namespace("down")
    with pytest.raises(TransientError):
        index.upsert("down", random_vectors(1, prefix="new-"))
    with pytest.raises(TransientError):
        index.delete_ids("down", ["v-00000"])
    # Reads of it, and writes elsewhere, still work; nothing refused was applied.
    assert sorted(index.fetch("down", ["v-00000", "new-00000"])) == ["v-00000"]
    assert index.delete_namespace("up") is True

    assert wait_for(lambda: server.request_count(status=503) and _deleted(index, "down"), timeout=10)
    assert index.fetch("down", ["v-00000"]) == {}


def _deleted(index, namespace: str) -> bool:
    from twinadmin.vectors import TransientError

    try:
        return index.delete_namespace(namespace)
    except TransientError:
        return False


def test_an_outage_without_an_end_lasts_until_the_faults_change(make_server):
    from twinadmin.vectors import TransientError
    from twinadmin.vectors.pinecone_adapter import RetryPolicy

    server = make_server(faults=FaultConfig(outage_namespaces=frozenset({""}), retry_after=0))
    index = adapter_for(server, retry=RetryPolicy(attempts=1, initial_wait=0, max_wait=0))

    with pytest.raises(TransientError):
        index.upsert("__default__", random_vectors(2))
    time.sleep(0.2)
    with pytest.raises(TransientError):
        index.upsert("", random_vectors(2))
    server.set_faults(outage_namespaces=frozenset())
    assert index.upsert("", random_vectors(2)) == 2
    with pytest.raises(ValueError, match="not one string"):
        FaultConfig(outage_namespaces="ns")
    with pytest.raises(ValueError, match="some of delete, update, upsert"):
        FaultConfig(outage_operations={"query"})


def test_an_outage_can_refuse_deletes_only(make_server):
    from twinadmin.vectors import TransientError
    from twinadmin.vectors.pinecone_adapter import RetryPolicy

    server = make_server(
        faults=FaultConfig(
            outage_namespaces=frozenset({"ns"}), outage_operations=frozenset({"delete"}), retry_after=0
        )
    )
    index = adapter_for(server, retry=RetryPolicy(attempts=1, initial_wait=0, max_wait=0))

    assert index.upsert("ns", random_vectors(2)) == 2
    with pytest.raises(TransientError, match="unavailable for deletes"):
        index.delete_namespace("ns")
    assert len(index.fetch("ns", ["v-00000", "v-00001"])) == 2


def test_request_log_counts_every_request(make_server, tmp_path):
    log = tmp_path / "requests.jsonl"
    server = make_server(request_log=log, faults=FaultConfig(latency_ms=5))
    index = adapter_for(server)

    index.upsert("ns", random_vectors(3))
    index.fetch("ns", ["v-00000"])
    index.query("ns", vector=np.ones(DIM), top_k=2)
    index.describe_index_stats()
    index.delete_namespace("ns")
    index.delete_namespace("ns")
    server.stop()

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["method"], r["path"], r["namespace"], r["status"]) for r in lines] == [
        ("POST", "/vectors/upsert", "ns", 200),
        ("GET", "/vectors/fetch", "ns", 200),
        ("POST", "/query", "ns", 200),
        ("POST", "/describe_index_stats", "", 200),
        ("DELETE", "/namespaces/ns", "ns", 200),  # as the 2026-04 spec documents
        ("DELETE", "/namespaces/ns", "ns", 404),
    ]
    assert all(r["duration_ms"] >= 5 for r in lines)


def test_upsert_through_the_sdk_writes_float32_exact_values(make_server):
    server = make_server()
    index = adapter_for(server)
    vector = Vector("x", np.float32([np.pi, np.e, 1e-38, -7.0, 0.3, 2.0**-20, 65504.0, 1.1]))

    index.upsert("ns", [vector])

    stored = server.store.fetch("ns", ["x"])["x"]
    assert stored.values.view(np.uint32).tolist() == vector.values.view(np.uint32).tolist()
