"""pinecone_local's gRPC data plane: the SDK's own gRPC client (`pc.index(host=..., grpc=True)`)
works against it unchanged, over the same store as REST, with the same errors, injected faults
and request log."""

from __future__ import annotations

import json

import grpc
import numpy as np
import pytest
from pinecone import Pinecone, SparseValues
from pinecone.errors import exceptions as pe

from tests.support.vectors import DIM
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.server import FaultConfig, LocalPineconeServer
from twinadmin.vectors.server.proto import db_data_pb2 as pb
from twinadmin.vectors.server.proto import db_data_pb2_grpc as pb_grpc

KEY = [("api-key", "any-key")]


def bits(values) -> list[int]:
    return np.asarray(values, dtype=np.float32).view(np.uint32).tolist()


def grpc_index(server):
    # The server is plaintext: the SDK dials https unless told the scheme.
    return Pinecone(api_key="any-key", grpc_scheme="http").index(host=server.grpc_url, grpc=True)


def rest_index(server):
    return Pinecone(api_key="any-key").index(host=server.url)


@pytest.fixture
def hybrid_server(make_server, tmp_path):
    store = LocalStore(tmp_path / "hybrid.sqlite3", dimension=DIM, metric="dotproduct")
    return make_server(store=store, grpc=True)


@pytest.fixture
def stub(make_server):
    """The generated stub over a raw channel: the status codes and trailers themselves."""
    server = make_server(grpc=True)
    channel = grpc.insecure_channel(f"{server.host}:{server.grpc_port}")
    yield server, pb_grpc.VectorServiceStub(channel)
    channel.close()


def test_the_sdk_grpc_client_round_trips_dense_sparse_and_metadata_bit_exactly(hybrid_server):
    tricky = np.array([0.1, 1 / 3, -2.5e-8, 3.4028235e38, 1.4e-45, -0.0, 1e-40, 123456.789], np.float32)
    weights = np.array([1 / 3, 1e-40, -7.25], np.float32)
    index = grpc_index(hybrid_server)
    metadata = {"text": "Héllo — ✓", "chunk": 3, "score": 0.25, "flag": True, "tags": ["a", "b"]}

    index.upsert(
        vectors=[
            {
                "id": "h",
                "values": tricky.tolist(),
                "sparse_values": {"indices": [0, 7, 2**32 - 1], "values": weights.tolist()},
                "metadata": metadata,
            },
            ("plain", [1.0] * DIM),
        ],
        namespace="ns",
    )
    fetched = index.fetch(ids=["h", "plain", "missing"], namespace="ns").vectors

    assert set(fetched) == {"h", "plain"}
    assert bits(fetched["h"].values) == bits(tricky)
    assert fetched["h"].sparse_values.indices == [0, 7, 2**32 - 1]
    assert bits(fetched["h"].sparse_values.values) == bits(weights)
    # Numbers come back as doubles, as Pinecone stores them; the rest as written.
    assert fetched["h"].metadata == {**metadata, "chunk": 3.0}
    assert fetched["plain"].metadata is None and fetched["plain"].sparse_values is None
    # The same store behind both transports: REST reads what gRPC wrote, bit for bit.
    over_rest = rest_index(hybrid_server).fetch(ids=["h"], namespace="ns").vectors["h"]
    assert bits(over_rest.values) == bits(tricky)
    assert bits(over_rest.sparse_values.values) == bits(weights)


def test_grpc_queries_score_filter_and_include_as_rest_does(hybrid_server):
    rng = np.random.default_rng(3)
    rest = rest_index(hybrid_server)
    rest.upsert(
        vectors=[
            {
                "id": f"v{i}",
                "values": rng.standard_normal(DIM).astype(np.float32).tolist(),
                "sparse_values": {"indices": [i, 100], "values": [0.5, float(i)]},
                "metadata": {"i": i, "parity": "odd" if i % 2 else "even"},
            }
            for i in range(20)
        ],
        namespace="q",
    )
    ask = {
        "vector": [0.5] * DIM,
        "sparse_vector": SparseValues(indices=[100, 3], values=[0.25, 2.0]),
        "top_k": 5,
        "namespace": "q",
        "filter": {"parity": {"$eq": "odd"}, "i": {"$gte": 3}},
        "include_values": True,
        "include_metadata": True,
    }

    over_grpc = grpc_index(hybrid_server).query(**ask).matches
    over_rest = rest.query(**ask).matches

    assert [m.id for m in over_grpc] == [m.id for m in over_rest]
    assert len(over_grpc) == 5 and all(m.metadata["parity"] == "odd" for m in over_grpc)
    for g, r in zip(over_grpc, over_rest, strict=True):
        assert g.score == pytest.approx(r.score, rel=1e-6)  # float32 on gRPC's wire, double in JSON
        assert bits(g.values) == bits(r.values)
        assert g.sparse_values.indices == r.sparse_values.indices
        assert g.metadata == r.metadata
    by_id = grpc_index(hybrid_server).query(id="v4", top_k=3, namespace="q").matches
    assert by_id[0].id in {m.id for m in rest.query(id="v4", top_k=3, namespace="q").matches}
    assert by_id[0].values == []  # not asked for


def test_grpc_lists_ids_in_pages_with_a_prefix(make_server):
    server = make_server(grpc=True)
    index = grpc_index(server)
    ids = [f"doc-{i:04d}" for i in range(230)] + [f"other-{i}" for i in range(7)]
    index.upsert(vectors=[(i, [1.0] * DIM) for i in ids], namespace="ns", batch_size=100, show_progress=False)

    first = index.list_paginated(namespace="ns", prefix="doc-", limit=100)
    pages = [[item.id for item in page.vectors] for page in index.list(namespace="ns", prefix="doc-")]

    assert [item.id for item in first.vectors] == ids[:100]
    assert first.pagination is not None and first.pagination.next
    assert [len(p) for p in pages] == [100, 100, 30]
    assert sum(pages, []) == ids[:230]
    assert index.list_paginated(namespace="ns", prefix="nothing").vectors == []


def test_grpc_updates_deletes_stats_and_namespaces_change_the_shared_store(make_server):
    server = make_server(grpc=True)
    index = grpc_index(server)
    index.upsert(vectors=[(f"v{i}", [float(i + 1)] * DIM, {"i": i}) for i in range(10)], namespace="a")
    index.upsert(vectors=[("w", [1.0] * DIM)], namespace="b")

    index.update(id="v1", values=[9.0] * DIM, set_metadata={"tag": "x"}, namespace="a")
    index.delete(ids=["v2", "v3"], namespace="a")
    index.delete(delete_all=True, namespace="b")
    created = index.create_namespace(name="empty")

    stats = index.describe_index_stats()
    assert {name: s.vector_count for name, s in stats.namespaces.items()} == {"a": 8}
    assert (stats.dimension, stats.metric, stats.total_vector_count) == (DIM, "cosine", 8)
    updated = server.store.fetch("a", ["v1"])["v1"]
    assert bits(updated.values) == bits(np.full(DIM, 9.0)) and updated.metadata == {"i": 1.0, "tag": "x"}
    assert sorted(server.store.list_ids("a").ids) == sorted(f"v{i}" for i in range(10) if i not in (2, 3))
    assert created.name == "empty" and index.describe_namespace(name="empty").record_count == 0
    names = [ns.name for ns in index.list_namespaces_paginated().namespaces]
    assert names == ["a", "empty"]
    index.delete_namespace(name="a")
    assert server.store.counts() == {}
    with pytest.raises(pe.NotFoundError):
        index.delete(ids=["v1"], namespace="never-existed")


def test_grpc_errors_carry_pinecones_status_codes_and_change_nothing(stub):
    server, client = stub
    vector = pb.Vector(id="a", values=[1.0] * DIM)

    def code_of(call, request, metadata=KEY):
        with pytest.raises(grpc.RpcError) as caught:
            call(request, metadata=metadata)
        return caught.value.code(), caught.value.details()

    no_key = code_of(client.Upsert, pb.UpsertRequest(vectors=[vector]), metadata=[])
    wrong_dim = code_of(client.Upsert, pb.UpsertRequest(vectors=[pb.Vector(id="a", values=[1.0, 2.0])]))
    too_many_ids = code_of(client.Fetch, pb.FetchRequest(ids=[f"v{i}" for i in range(1001)]))
    too_big = code_of(
        client.Upsert,
        pb.UpsertRequest(vectors=[pb.Vector(id=f"v{i}", values=[0.5] * 300_000) for i in range(2)]),
    )
    deprecated = code_of(client.Query, pb.QueryRequest(top_k=1, queries=[pb.QueryVector(values=[1.0] * DIM)]))
    missing = code_of(client.DescribeNamespace, pb.DescribeNamespaceRequest(namespace="nope"))
    exists = client.CreateNamespace(pb.CreateNamespaceRequest(name="n"), metadata=KEY)
    again = code_of(client.CreateNamespace, pb.CreateNamespaceRequest(name="n"))

    assert no_key[0] == grpc.StatusCode.UNAUTHENTICATED
    assert wrong_dim == (grpc.StatusCode.INVALID_ARGUMENT, wrong_dim[1])
    assert "does not match the dimension of the index" in wrong_dim[1]
    assert too_many_ids[0] == grpc.StatusCode.INVALID_ARGUMENT and "at most 1000 ids" in too_many_ids[1]
    assert too_big[0] == grpc.StatusCode.INVALID_ARGUMENT
    assert "exceeds the maximum supported size of 2MB" in too_big[1]
    assert deprecated[0] == grpc.StatusCode.INVALID_ARGUMENT and "queries is deprecated" in deprecated[1]
    assert missing[0] == grpc.StatusCode.NOT_FOUND
    assert exists.name == "n" and again[0] == grpc.StatusCode.ALREADY_EXISTS
    assert server.store.counts() == {}


def test_injected_faults_reach_grpc_before_the_store(stub):
    server, client = stub
    upsert = pb.UpsertRequest(vectors=[pb.Vector(id="a", values=[1.0] * DIM)], namespace="down")

    server.set_faults(fail_429=1.0, retry_after=0.25)
    with pytest.raises(grpc.RpcError) as throttled:
        client.Upsert(upsert, metadata=KEY)
    server.set_faults(fail_429=0.0, fail_503=1.0)
    with pytest.raises(grpc.RpcError) as unavailable:
        client.Upsert(upsert, metadata=KEY)
    server.set_faults(fail_503=0.0, outage_namespaces=frozenset({"down"}))
    with pytest.raises(grpc.RpcError) as outage:
        client.Upsert(upsert, metadata=KEY)
    client.Upsert(pb.UpsertRequest(vectors=upsert.vectors, namespace="up"), metadata=KEY)

    assert throttled.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert dict(throttled.value.trailing_metadata()) == {
        "retry-after": "0.25",
        "grpc-retry-pushback-ms": "250",
    }
    assert unavailable.value.code() == grpc.StatusCode.UNAVAILABLE
    assert (
        outage.value.code() == grpc.StatusCode.UNAVAILABLE
        and "unavailable for upserts" in outage.value.details()
    )
    assert server.store.counts() == {"up": 1}


def test_the_sdk_grpc_client_rides_out_injected_429_and_503(make_server):
    server = make_server(grpc=True, faults=FaultConfig(fail_429=0.2, fail_503=0.2, retry_after=0, seed=4))
    index = grpc_index(server)

    for n in range(10):
        index.upsert(vectors=[(f"v{n}", [1.0] * DIM)], namespace="ns")

    assert server.store.counts() == {"ns": 10}
    assert server.request_count(transport="grpc", status=429) > 0
    assert server.request_count(transport="grpc", status=503) > 0


def test_the_request_log_records_grpc_calls_beside_rest_ones(make_server, tmp_path):
    log = tmp_path / "requests.jsonl"
    server = make_server(grpc=True, request_log=log, faults=FaultConfig(latency_ms=5))
    index = grpc_index(server)

    index.upsert(vectors=[("a", [1.0] * DIM)], namespace="ns")
    index.fetch(ids=["a"], namespace="ns")
    rest_index(server).fetch(ids=["a"], namespace="ns")
    index.describe_index_stats()
    with pytest.raises(pe.NotFoundError):
        index.delete(ids=["a"], namespace="nope")
    server.stop()

    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["transport"], r["path"], r["operation"], r["namespace"], r["status"]) for r in lines] == [
        ("grpc", "/VectorService/Upsert", "upsert", "ns", 200),
        ("grpc", "/VectorService/Fetch", "fetch", "ns", 200),
        ("rest", "/vectors/fetch", "fetch", "ns", 200),
        ("grpc", "/VectorService/DescribeIndexStats", "describe_index_stats", "", 200),
        ("grpc", "/VectorService/Delete", "delete", "nope", 404),
    ]
    assert all(r["duration_ms"] >= 5 for r in lines)
    assert server.request_count(operation="fetch") == 2
    assert server.request_count(operation="fetch", transport="grpc") == 1


def test_grpc_is_off_unless_asked_for(make_server):
    server = make_server()

    assert server.grpc_url is None and server.grpc_port is None
    assert server.serve_grpc() == server.grpc_url
    assert grpc_index(server).describe_index_stats().dimension == DIM


def test_a_grpc_port_in_use_is_refused_saying_so(make_server, tmp_path):
    taken = make_server(grpc=True)
    store = LocalStore(tmp_path / "second.sqlite3", dimension=DIM, metric="cosine")

    with pytest.raises(OSError, match=f"cannot serve gRPC on 127.0.0.1:{taken.grpc_port}"):
        LocalPineconeServer(store, grpc_port=taken.grpc_port)
