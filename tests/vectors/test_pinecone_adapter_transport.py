"""The adapter's transports and request shapes: gRPC (`PINECONE_TRANSPORT=grpc`, the SDK's gRPC
index) carries the same vectors bit-exactly; fetches go out in batches of up to 1,000 ids (over
REST within a URL budget); upserts are sized from each vector's shape and stay within 2 MB."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.support.vectors import FAST_RETRY, random_vectors
from twinadmin.vectors import RateLimited, Vector, get_index, limits, reset_index_cache
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.pinecone_adapter import PineconeIndex, RetryPolicy
from twinadmin.vectors.server import LocalPineconeServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalPineconeServer]:
    store = LocalStore(tmp_path / "index.sqlite3", dimension=1536, metric="cosine")
    server = LocalPineconeServer(store, grpc_port=0).start()
    yield server
    server.stop()


def _adapter(server: LocalPineconeServer, transport: str, retry: RetryPolicy = FAST_RETRY) -> PineconeIndex:
    return PineconeIndex(
        api_key="test-key",
        host=server.url,
        grpc_host=server.grpc_url,
        transport=transport,
        dimension=1536,
        metric="cosine",
        retry=retry,
    )


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_vectors_round_trip_bit_exactly_over_either_transport(server, transport):
    index = _adapter(server, transport)
    written = random_vectors(300, dim=1536, seed=3)
    written[0] = Vector(written[0].id, written[0].values, {"text": "ü" * 500, "tags": ["a", "b"], "n": 2.5})

    assert index.upsert("ns", written) == 300
    fetched = index.fetch("ns", [v.id for v in written])

    assert len(fetched) == 300
    for vector in written:
        got = fetched[vector.id]
        assert got.values.dtype == np.float32 and got.values.tobytes() == vector.values.tobytes()
    assert fetched[written[0].id].metadata == {"text": "ü" * 500, "tags": ["a", "b"], "n": 2.5}
    assert fetched[written[1].id].metadata == {"i": 1.0, "parity": "odd"}


def test_grpc_fetches_a_thousand_ids_in_one_request(server):
    index = _adapter(server, "grpc")
    index.upsert("ns", random_vectors(1000, dim=1536, seed=1))
    before = server.request_count(operation="fetch")

    assert len(index.fetch("ns", [f"v-{i:05d}" for i in range(1000)])) == 1000

    assert server.request_count(operation="fetch") - before == 1


def test_rest_fetch_batches_fill_the_url_budget_not_a_fixed_hundred(server):
    index = _adapter(server, "rest")
    index.upsert("ns", random_vectors(400, dim=1536, seed=1))
    ids = [f"v-{i:05d}" for i in range(400)]
    before = server.request_count(operation="fetch")

    assert len(index.fetch("ns", ids)) == 400

    # "&ids=v-00001" is 12 bytes: 400 of them fit one 6,000-byte query string.
    assert server.request_count(operation="fetch") - before == 1


def test_ids_needing_percent_encoding_still_keep_the_url_within_its_budget(server):
    index = _adapter(server, "rest")
    ids = [f"doc#{i:04d}/chunk {'x' * 40}" for i in range(300)]  # '#', '/', ' ' take 3 bytes each
    index.upsert("ns", [Vector(i, v.values) for i, v in zip(ids, random_vectors(300, dim=1536), strict=True)])
    before = server.request_count(operation="fetch")

    assert len(index.fetch("ns", ids)) == 300

    per_id = len("&ids=") + len(ids[0]) + 2 * 3  # three characters percent-encoded
    assert server.request_count(operation="fetch") - before == math.ceil(300 * per_id / 6_000)


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_the_adapter_says_how_many_ids_one_fetch_request_carries(server, transport):
    """What a caller that pays per request (the migration's read-back under a rate limit) hands
    `fetch` at a time: exactly one request's worth, as large as the transport allows."""
    index = _adapter(server, transport)
    ids = [f"doc-{i:04d}#{'x' * 60}" for i in range(1200)]  # long: a GET holds few of them
    vectors = random_vectors(1200, dim=1536)
    index.upsert("ns", [Vector(i, v.values) for i, v in zip(ids, vectors, strict=True)])

    size = index.fetch_request_size(ids)
    before = server.request_count(operation="fetch")
    assert len(index.fetch("ns", ids[:size])) == size
    assert server.request_count(operation="fetch") - before == 1
    assert len(index.fetch("ns", ids[: size + 1])) == size + 1
    assert server.request_count(operation="fetch") - before == 3  # one more id: two requests

    # gRPC carries the ids in the message (the API's 1,000); a GET as many as its URL holds.
    assert size == (1000 if transport == "grpc" else 6_000 // len(f"&ids={ids[0]}".replace("#", "%23")))
    assert index.fetch_request_size(ids[:7]) == 7


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_a_thousand_wide_vectors_land_in_requests_within_two_megabytes(server, transport):
    """The server refuses a request over 2 MB (413): sizing from the shape must hold the limit,
    over gRPC with far fewer requests than JSON needs."""
    index = _adapter(server, transport)
    written = random_vectors(1000, dim=1536, seed=2)
    before = server.request_count(operation="upsert")

    assert index.upsert("ns", written) == 1000

    requests = server.request_count(operation="upsert") - before
    if transport == "rest":  # about 37 KB of JSON each at most: 56 a request
        bound = limits.json_vector_bytes_bound(id_bytes=7, dimension=1536, metadata_bytes=30)
        assert requests == math.ceil(1000 / (limits.MAX_UPSERT_BYTES // bound)) == 18
    else:  # about 6.3 KB of packed float32 each: 335 a request
        assert requests == 3


def test_throttling_over_grpc_is_rate_limited_and_counted(server):
    index = _adapter(
        server, "grpc", retry=RetryPolicy(attempts=1, initial_wait=0.01, max_wait=0.01, deadline=0.2)
    )
    server.set_faults(fail_429=1.0, retry_after=0)

    with pytest.raises(RateLimited):
        index.fetch("ns", ["a"])

    assert index.throttle_count >= 1  # each throttled answer the SDK gave up on counted


def test_the_factory_builds_a_grpc_adapter_from_the_settings(server, settings):
    settings.VECTOR_BACKEND = "pinecone"
    settings.PINECONE_API_KEY = "test-key"
    settings.PINECONE_INDEX_HOST = server.url
    settings.PINECONE_TRANSPORT = "grpc"
    settings.PINECONE_GRPC_HOST = server.grpc_url
    reset_index_cache()
    try:
        index = get_index()
        index.upsert("ns", random_vectors(3, dim=1536))
        assert index.transport == "grpc"
        assert server.request_count(operation="upsert", transport="grpc") == 1
    finally:
        reset_index_cache()


def test_an_unknown_transport_stops_start_up():
    env = {**os.environ, "DEBUG": "1", "PINECONE_TRANSPORT": "carrier-pigeon"}
    out = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode != 0
    assert "ImproperlyConfigured" in out.stderr and "PINECONE_TRANSPORT='carrier-pigeon'" in out.stderr
