"""Where pinecone_local once diverged from Pinecone, each behaviour stated as Pinecone has it and
checked through the real pinecone SDK (pointed at the local server, as a user's script would be).
"""

from __future__ import annotations

import pytest
from pinecone import Pinecone
from pinecone.errors import exceptions as pe

from tests.support.vectors import DIM, adapter_for


@pytest.fixture
def server(make_server):
    return make_server()


@pytest.fixture
def idx(server):
    return Pinecone(api_key="any-key").Index(host=server.url)


def _records(idx, **extra) -> None:
    idx.upsert(
        vectors=[
            {"id": "a", "values": [1.0] * DIM, "metadata": {"genre": "drama", "year": 2019}},
            {"id": "b", "values": [0.5] * DIM, "metadata": {"genre": "comedy"}},
            {"id": "c", "values": [0.25] * DIM, "metadata": {"year": 2020}},
            {"id": "d", "values": [0.1] * DIM},
        ],
        namespace="ns",
        **extra,
    )


def test_a_created_namespace_exists_while_empty_is_listed_and_cannot_be_created_twice(idx, server):
    created = idx.create_namespace(name="fresh", schema={"fields": {"genre": {"filterable": True}}})

    assert (created.name, created.record_count) == ("fresh", 0)
    described = idx.describe_namespace(name="fresh")
    assert (described.name, described.record_count) == ("fresh", 0)
    listed = idx.list_namespaces_paginated()
    assert [(n.name, n.record_count) for n in listed.namespaces] == [("fresh", 0)]
    with pytest.raises(pe.ConflictError):
        idx.create_namespace(name="fresh")
    # It stays through writes and a delete_all, and goes with delete_namespace.
    idx.upsert(vectors=[{"id": "x", "values": [1.0] * DIM}], namespace="fresh")
    idx.delete(delete_all=True, namespace="fresh")
    assert idx.describe_namespace(name="fresh").record_count == 0
    idx.delete_namespace(name="fresh")
    with pytest.raises(pe.NotFoundError):
        idx.describe_namespace(name="fresh")
    # The adapter reports non-empty namespaces only, as before.
    idx.create_namespace(name="again")
    assert adapter_for(server).list_namespaces().namespaces == []
    assert adapter_for(server).describe_namespace("again").vector_count == 0


def test_update_by_filter_reports_matched_records_and_dry_run_writes_nothing(idx, server):
    _records(idx)

    preview = idx.update(
        filter={"genre": {"$eq": "drama"}}, set_metadata={"seen": True}, namespace="ns", dry_run=True
    )

    assert preview.matched_records == 1
    assert "seen" not in server.store.fetch("ns", ["a"])["a"].metadata
    done = idx.update(filter={"year": {"$exists": True}}, set_metadata={"seen": True}, namespace="ns")
    assert done.matched_records == 2
    after = server.store.fetch("ns", ["a", "b", "c", "d"])
    assert {i for i, v in after.items() if v.metadata and v.metadata.get("seen")} == {"a", "c"}
    assert after["a"].metadata["genre"] == "drama"  # merged, not replaced


@pytest.mark.parametrize(
    "selector",
    [{"delete_all": True}, {"ids": ["a"]}, {"filter": {"genre": "drama"}}],
    ids=["delete_all", "ids", "filter"],
)
def test_a_delete_in_a_namespace_that_does_not_exist_is_404(idx, server, selector):
    with pytest.raises(pe.NotFoundError):
        idx.delete(namespace="no-such-namespace", **selector)


def test_the_adapter_stays_idempotent_where_pinecone_answers_404(server):
    # Erasure and rollback delete again what may be gone already: the layer's deletes never raise.
    index = adapter_for(server)

    index.delete_ids("no-such-namespace", ["a", "b"])
    assert index.delete_namespace("no-such-namespace") is False


def test_a_request_over_2_mb_is_400_with_pinecones_size_message(idx, server):
    big = {"id": "a", "values": [1.0] * DIM, "metadata": {"t": "x" * (2 * 1024 * 1024 + 10)}}

    with pytest.raises(pe.ApiError) as caught:
        idx.upsert(vectors=[big], namespace="ns")

    assert caught.value.status_code == 400
    assert "exceeds the maximum supported size of 2MB" in str(caught.value)
    assert server.store.counts() == {}


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"genre": {"$ne": "drama"}}, {"b"}),
        ({"genre": {"$nin": ["comedy"]}}, {"a"}),
        ({"year": {"$ne": 2019}}, {"c"}),
    ],
)
def test_ne_and_nin_match_only_records_that_carry_the_field(idx, filter_, expected):
    _records(idx)

    hits = idx.query(vector=[1.0] * DIM, top_k=10, namespace="ns", filter=filter_)

    assert {m.id for m in hits.matches} == expected


def test_describe_index_and_list_indexes_give_the_index_and_both_index_lookups_work(make_server):
    server = make_server(dimension=DIM, metric="dotproduct")
    pc = Pinecone(api_key="any-key", host=server.url)

    described = pc.describe_index("digital-twin-brain")
    listed = pc.list_indexes()

    assert (described.name, described.dimension, described.metric, described.vector_type) == (
        "digital-twin-brain",
        DIM,
        "dotproduct",
        "dense",
    )
    assert described.host == server.url and described.status.ready
    assert [i.name for i in listed] == ["digital-twin-brain"]
    with pytest.raises(pe.NotFoundError):
        pc.describe_index("another-index")
    by_name, by_host = pc.Index(name="digital-twin-brain"), pc.Index(host=server.url)
    by_name.upsert(vectors=[{"id": "v", "values": [1.0] * DIM}])
    assert by_host.fetch(ids=["v"]).vectors["v"].values == [1.0] * DIM


def test_the_server_serves_the_index_name_it_is_given(tmp_path):
    from twinadmin.vectors.local import LocalStore
    from twinadmin.vectors.server import LocalPineconeServer

    store = LocalStore(tmp_path / "named.sqlite3", dimension=DIM, metric="cosine")
    with LocalPineconeServer(store, index_name="other-index") as named:
        assert Pinecone(api_key="k", host=named.url).describe_index("other-index").dimension == DIM
