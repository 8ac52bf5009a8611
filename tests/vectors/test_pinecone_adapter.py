"""The adapter's boundary with the SDK: errors mapped, Retry-After honoured, host resolution."""

from __future__ import annotations

import socket

import pytest
import tenacity
from pinecone.errors import exceptions as pe

from tests.support.vectors import DIM, adapter_for, random_vectors
from twinadmin.vectors import ConfigurationError, InvalidRequest, NotFound, RateLimited, TransientError
from twinadmin.vectors.pinecone_adapter import (
    PineconeIndex,
    RetryPolicy,
    _WaitHonouringRetryAfter,
    translate_error,
)


def test_the_adapter_is_approximate_and_overlaps_round_trips(make_server):
    index = adapter_for(make_server())
    assert (index.is_exact, index.concurrency_hint) == (False, 8)


@pytest.mark.parametrize(
    ("sdk_error", "expected"),
    [
        (pe.NotFoundError(message="no namespace", status_code=404), NotFound),
        (pe.RateLimitError(message="slow down", retry_after=2.5), RateLimited),
        (pe.ServiceError(message="unavailable", status_code=503), TransientError),
        (pe.ApiError(message="timeout", status_code=408), TransientError),
        (pe.PineconeTimeoutError("timed out"), TransientError),
        (pe.PineconeConnectionError("refused"), TransientError),
        (pe.ApiError(message="bad", status_code=400), InvalidRequest),
        (pe.PayloadTooLargeError(message="too big", status_code=413), InvalidRequest),
        (pe.PineconeValueError("top_k must be between 1 and 10000"), InvalidRequest),
        (pe.UnauthorizedError(message="bad key", status_code=401), ConfigurationError),
    ],
    ids=lambda v: type(v).__name__,
)
def test_sdk_errors_map_onto_layer_errors(sdk_error, expected):
    error = translate_error(sdk_error)
    assert type(error) is expected
    if isinstance(error, RateLimited):
        assert error.retry_after == 2.5


def test_waits_what_retry_after_says_and_backs_off_otherwise():
    wait = _WaitHonouringRetryAfter(RetryPolicy(initial_wait=0.2, max_wait=5))

    def state(exc: BaseException, attempt: int) -> tenacity.RetryCallState:
        retry_state = tenacity.RetryCallState(tenacity.Retrying(), None, (), {})
        retry_state.attempt_number = attempt
        retry_state.set_exception((type(exc), exc, None))
        return retry_state

    assert wait(state(RateLimited(retry_after=3.0), 1)) == 3.0
    assert wait(state(RateLimited(retry_after=60.0), 1)) == 5  # capped
    assert 0.1 <= wait(state(TransientError(), 1)) <= 0.2
    assert 0.8 <= wait(state(TransientError(), 4)) <= 1.6


def test_an_unreachable_host_is_a_transient_error(monkeypatch):
    # Time is a process boundary: skip the SDK's own back-off sleeps between its retries.
    monkeypatch.setattr("pinecone._internal.http_client._retry_sleep", lambda seconds: None)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    index = PineconeIndex(
        api_key="k",
        host=f"http://127.0.0.1:{port}",
        dimension=DIM,
        metric="cosine",
        retry=RetryPolicy(attempts=1),
    )
    with pytest.raises(TransientError):
        index.describe_index_stats()


def test_index_name_resolves_its_host_and_shape_through_the_control_plane(make_server):
    server = make_server(dimension=DIM + 3, metric="euclidean")

    index = PineconeIndex(api_key="k", index_name="digital-twin-brain", control_host=server.url)
    index.upsert("ns", random_vectors(3, dim=DIM + 3))

    assert (index.host, index.dimension, index.metric, index.vector_type) == (
        server.url,
        DIM + 3,
        "euclidean",
        "dense",
    )
    assert server.store.describe_namespace("ns").vector_count == 3
    assert server.request_count(path="/indexes/digital-twin-brain") == 1


def test_an_unknown_index_name_is_a_configuration_error(make_server):
    server = make_server()

    with pytest.raises(ConfigurationError, match="not found"):
        PineconeIndex(api_key="k", index_name="another-index", control_host=server.url)


def test_bad_input_is_refused_before_any_request(make_server):
    server = make_server()
    index = adapter_for(server)
    vectors = random_vectors(2500)
    vectors[-1] = type(vectors[-1])("last", [1.0] * (DIM + 1))

    with pytest.raises(InvalidRequest):
        index.upsert("ns", vectors)

    assert server.request_count() == 0
