"""pinecone_local's rate limits (`--rate-limits pinecone|FILE`): a token bucket per scope; over a
budget, 429 with Retry-After and a message naming the limit (gRPC: RESOURCE_EXHAUSTED), before the
store is touched; one limiter for REST and gRPC. The numbers here are small, from files, so the
budgets run out in a few requests."""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
from django.core.management import CommandError, call_command
from pinecone import Pinecone

from tests.support.vectors import DIM, FAST_RETRY, pinecone_local_process, random_vectors
from twinadmin.vectors import limits
from twinadmin.vectors.pinecone_adapter import PineconeIndex
from twinadmin.vectors.server.proto import db_data_pb2 as pb
from twinadmin.vectors.server.proto import db_data_pb2_grpc as pb_grpc
from twinadmin.vectors.server.rate_limits import RateLimiter, RateLimits

HEADERS = {"Api-Key": "any-key"}
ROOT = Path(__file__).resolve().parents[2]


def limits_file(tmp_path: Path, name: str = "limits.json", **rates: float) -> Path:
    path = tmp_path / name
    if name.endswith(".toml"):
        path.write_text("".join(f"{key} = {value}\n" for key, value in rates.items()))
    else:
        path.write_text(json.dumps(rates))
    return path


class Clock:
    """The limiter's time, still until a test moves it: how fast the machine runs the requests
    changes nothing."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limited_server(make_server, tmp_path: Path, clock: Clock | None = None, **rates: float):
    server = make_server(grpc=True)
    config = RateLimits.load(limits_file(tmp_path, **rates))
    if clock is None:
        server.rate_limits = config
    else:
        server.rate_limiter = RateLimiter(config, clock=clock)
    return server


def fetch(client: httpx.Client, namespace: str = "ns") -> httpx.Response:
    return client.get("/vectors/fetch", params={"ids": "v-00000", "namespace": namespace})


def test_the_pinecone_preset_holds_pinecones_serverless_limits():
    assert RateLimits.load("pinecone").rates == {
        "query_per_namespace": 100,
        "upsert_per_namespace": 100,
        "delete_per_namespace": 100,
        "update_per_namespace": 100,
        "fetch_per_index": 100,
        "list_per_index": 200,
        "describe_index_stats_per_index": 100,
        "upsert_bytes_per_namespace": 50 * 1024 * 1024,
    }
    # The per-request limits hold with or without rate limits (the store enforces them).
    assert (limits.MAX_FETCH_IDS, limits.MAX_UPSERT_BYTES) == (1000, 2 * 1024 * 1024)


def test_a_limits_file_in_json_or_toml_sets_other_numbers(tmp_path):
    as_json = RateLimits.load(limits_file(tmp_path, fetch_per_index=5, upsert_bytes_per_namespace=1000))
    as_toml = RateLimits.load(limits_file(tmp_path, "limits.toml", fetch_per_index=5, list_per_index=2.5))

    assert as_json.rates == {"fetch_per_index": 5.0, "upsert_bytes_per_namespace": 1000.0}
    assert as_toml.rates == {"fetch_per_index": 5.0, "list_per_index": 2.5}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"fetch_per_second": 5}', "unknown rate limit(s) fetch_per_second"),
        ('{"fetch_per_index": 0}', "must be a positive number"),
        ('{"fetch_per_index": "fast"}', "must be a positive number"),
        ("[1, 2]", "expected an object of limits"),
        ("{not json", "not valid JSON"),
    ],
)
def test_a_bad_limits_file_is_refused_saying_why(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)

    with pytest.raises(ValueError, match=re.escape(message)):
        RateLimits.load(path)
    with pytest.raises(ValueError, match="takes a preset"):
        RateLimits.load(tmp_path / "missing.json")


def test_a_per_index_budget_answers_429_with_retry_after_naming_the_limit(make_server, tmp_path):
    clock = Clock()
    server = limited_server(make_server, tmp_path, clock, fetch_per_index=3)
    server.store.upsert("ns", random_vectors(1))

    with httpx.Client(base_url=server.url, headers=HEADERS) as client:
        within = [fetch(client).status_code for _ in range(3)]
        over = fetch(client)
        elsewhere = fetch(client, namespace="other")  # the same budget: it is the index's
        clock.now += 0.3
        too_soon = fetch(client)
        clock.now += 0.04
        again = fetch(client)

    assert within == [200, 200, 200]
    assert over.status_code == 429 and elsewhere.status_code == 429
    assert float(over.headers["Retry-After"]) == pytest.approx(1 / 3, abs=0.001)  # one token at 3/s
    assert too_soon.status_code == 429
    assert over.json()["code"] == 8
    assert "fetch_per_index" in over.json()["message"] and "3 requests per second" in over.json()["message"]
    assert again.status_code == 200


def test_per_namespace_budgets_are_independent_of_each_other(make_server, tmp_path):
    server = limited_server(make_server, tmp_path, Clock(), query_per_namespace=2)
    body = {"topK": 1, "vector": [1.0] * DIM}

    with httpx.Client(base_url=server.url, headers=HEADERS) as client:
        first = [client.post("/query", json={**body, "namespace": "a"}).status_code for _ in range(3)]
        other = [client.post("/query", json={**body, "namespace": "b"}).status_code for _ in range(2)]
        default = [client.post("/query", json=body).status_code for _ in range(2)]
        unlimited = client.get("/vectors/list", params={"namespace": "a"})

    assert first == [200, 200, 429]
    assert other == [200, 200] and default == [200, 200]
    assert unlimited.status_code == 200  # list has no budget in this file


def test_upsert_bytes_are_budgeted_per_namespace_and_a_refused_upsert_writes_nothing(make_server, tmp_path):
    one_request = len(json.dumps({"vectors": [{"id": "v", "values": [0.5] * DIM}], "namespace": "ns"}))
    server = limited_server(make_server, tmp_path, Clock(), upsert_bytes_per_namespace=one_request * 2.5)

    def upsert(client, vector_id, namespace="ns"):
        vectors = [{"id": vector_id, "values": [0.5] * DIM}]
        return client.post("/vectors/upsert", json={"vectors": vectors, "namespace": namespace})

    with httpx.Client(base_url=server.url, headers=HEADERS) as client:
        statuses = [upsert(client, f"v{i}").status_code for i in range(3)]
        refused = upsert(client, "late")
        other_namespace = upsert(client, "v", namespace="ns2")

    assert statuses == [200, 200, 429]
    assert "upsert_bytes_per_namespace" in refused.json()["message"]
    assert other_namespace.status_code == 200
    assert server.store.counts() == {"ns": 2, "ns2": 1}


def test_one_limiter_serves_rest_and_grpc(make_server, tmp_path):
    server = limited_server(make_server, tmp_path, Clock(), list_per_index=2)
    channel = grpc.insecure_channel(f"{server.host}:{server.grpc_port}")
    stub = pb_grpc.VectorServiceStub(channel)
    metadata = [("api-key", "any-key")]

    with httpx.Client(base_url=server.url, headers=HEADERS) as client:
        assert client.get("/vectors/list").status_code == 200
        stub.List(pb.ListRequest(), metadata=metadata)
        with pytest.raises(grpc.RpcError) as over_grpc:
            stub.List(pb.ListRequest(), metadata=metadata)
        over_rest = client.get("/vectors/list")
    channel.close()

    assert over_grpc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "list_per_index" in over_grpc.value.details()
    assert float(dict(over_grpc.value.trailing_metadata())["retry-after"]) > 0
    assert over_rest.status_code == 429


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_the_adapter_honours_retry_after_and_gets_everything_through(make_server, tmp_path, transport):
    server = limited_server(make_server, tmp_path, fetch_per_index=5)
    index = PineconeIndex(
        api_key="k", host=server.url, grpc_host=server.grpc_url, transport=transport, retry=FAST_RETRY
    )
    vectors = random_vectors(12)
    index.upsert("ns", vectors)

    started = time.monotonic()
    fetched = [index.fetch("ns", [v.id]) for v in vectors]
    elapsed = time.monotonic() - started

    assert all(len(f) == 1 for f in fetched)
    assert server.request_count(operation="fetch", status=429) > 0
    assert server.request_count(operation="fetch", status=200) == 12
    # 12 fetches at 5/s with a burst of 5: the last one cannot have been answered before 1.4 s.
    assert elapsed >= (12 - 5) / 5 * 0.9


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_requests_taking_turns_for_one_budget_wait_their_turn_instead_of_running_out_of_tries(
    make_server, tmp_path, transport
):
    # Eight threads share a budget of 10 fetches/s (as a migration's requests in flight share
    # Pinecone's): each waits for its turn far more often than its 2 tries, yet all get through,
    # because a 429 that says when to come back is pacing, not failure.
    from concurrent.futures import ThreadPoolExecutor

    from twinadmin.vectors.pinecone_adapter import RetryPolicy

    server = limited_server(make_server, tmp_path, fetch_per_index=10)
    index = PineconeIndex(
        api_key="k",
        host=server.url,
        grpc_host=server.grpc_url,
        transport=transport,
        retry=RetryPolicy(attempts=2, initial_wait=0.005, max_wait=0.5, deadline=60),
    )
    vectors = random_vectors(8)
    index.upsert("ns", vectors)

    with ThreadPoolExecutor(max_workers=8) as pool:
        fetched = list(pool.map(lambda v: [index.fetch("ns", [v.id]) for _ in range(4)], vectors))

    assert all(len(f) == 1 for batch in fetched for f in batch)
    assert server.request_count(operation="fetch", status=200) == 32
    assert server.request_count(operation="fetch", status=429) > 32  # turns waited: many per thread


def test_the_sdk_grpc_client_honours_the_pushback_and_gets_everything_through(make_server, tmp_path):
    server = limited_server(make_server, tmp_path, upsert_per_namespace=4)
    index = Pinecone(api_key="k", grpc_scheme="http").index(host=server.grpc_url, grpc=True)

    for i in range(10):
        index.upsert(vectors=[(f"v{i}", np.ones(DIM).tolist())], namespace="ns")

    assert server.store.counts() == {"ns": 10}
    assert server.request_count(operation="upsert", transport="grpc", status=429) > 0


def two_free_ports() -> int:
    """A free port whose next one is free too (for a moment: good enough on loopback)."""
    for _ in range(50):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError("no two consecutive free ports")


def test_the_command_serves_grpc_on_the_next_port_and_enforces_a_limits_file_on_both(tmp_path):
    path = limits_file(tmp_path, describe_index_stats_per_index=1)
    port = two_free_ports()
    proc = pinecone_local_process(
        *("--port", str(port), "--rate-limits", str(path), "--path", str(tmp_path / "served.sqlite3")),
        *("--dimension", "4"),
    )
    try:
        line = proc.stdout.readline()
        rest_url = re.search(r" at (http://\S+);", line).group(1)
        grpc_url = re.search(r"gRPC at (http://\S+);", line).group(1)
        with httpx.Client(base_url=rest_url, headers=HEADERS) as client:
            first = client.post("/describe_index_stats", json={})
            second = client.post("/describe_index_stats", json={})
        index = Pinecone(api_key="k", grpc_scheme="http").index(host=grpc_url, grpc=True)
        stats = index.describe_index_stats()  # rides out its 429s: the SDK retries them
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)

    assert (rest_url, grpc_url) == (f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}")
    assert f"rate limits {path}" in line
    assert first.status_code == 200 and second.status_code == 429
    assert "describe_index_stats_per_index" in second.json()["message"]
    assert stats.dimension == 4


def test_a_bad_rate_limits_option_stops_the_command_saying_why(tmp_path):
    def serve(rate_limits: str) -> None:
        call_command(
            "pinecone_local", "--port", "0", "--rate-limits", rate_limits, "--path", str(tmp_path / "s")
        )

    with pytest.raises(CommandError, match=re.escape("--rate-limits takes a preset (pinecone) or a JSON")):
        serve("pinecone-ish")
    with pytest.raises(CommandError, match="unknown rate limit"):
        serve(str(limits_file(tmp_path, fetches=1)))
