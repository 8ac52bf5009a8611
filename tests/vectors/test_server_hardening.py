"""pinecone_local under hostile or broken clients: a bad Content-Length, a missing key, an
oversized or trickling body, an undeclared method each get a clear JSON answer (never a 500, an
HTML page or a thread held forever), and the key and bind address can be locked down."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import orjson
import pytest
from pinecone import Pinecone
from pinecone.errors import exceptions as pe

from tests.support.vectors import DIM, pinecone_local_process
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.server import LocalPineconeServer

ROOT = Path(__file__).resolve().parents[2]


def _raw(server: LocalPineconeServer, request: bytes, *, timeout: float = 5.0) -> tuple[int, dict, float]:
    """Send raw bytes; (status, JSON body, seconds until the answer)."""
    started = time.monotonic()
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(
            next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split(
                b":"
            )[1]
        )
        while len(body) < length:
            body += sock.recv(65536)
    status = int(head.split(b" ")[1])
    assert b"application/json" in head.lower()
    return status, orjson.loads(body), time.monotonic() - started


def _post(headers: str, body: bytes = b"") -> bytes:
    return f"POST /vectors/upsert HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode() + body


@pytest.fixture
def server(make_server):
    return make_server()


def test_a_malformed_content_length_is_400_not_500(server):
    status, body, _ = _raw(server, _post("Api-Key: k\r\nContent-Length: 12abc\r\n"))

    assert status == 400 and "Content-Length" in body["message"]


def test_the_api_key_is_checked_before_the_body_is_read(server):
    # A megabyte is announced and never sent: the answer comes at once, without waiting for it.
    status, _, seconds = _raw(server, _post("Content-Length: 1000000\r\n"))

    assert status == 401 and seconds < 2


def test_a_body_over_the_limit_is_refused_unread(server):
    status, body, seconds = _raw(server, _post(f"Api-Key: k\r\nContent-Length: {3 * 1024 * 1024}\r\n"))

    assert status == 400 and "exceeds the maximum supported size of 2MB" in body["message"]
    assert seconds < 2


def test_a_trickling_body_times_out_and_frees_the_thread(tmp_path):
    store = LocalStore(tmp_path / "slow.sqlite3", dimension=DIM, metric="cosine")
    with LocalPineconeServer(store, read_timeout=0.5) as slow:
        status, _, seconds = _raw(slow, _post("Api-Key: k\r\nContent-Length: 100\r\n", b'{"vec'))
        assert status == 408 and seconds < 3
        # The server still answers others.
        ok = Pinecone(api_key="k").Index(host=slow.url).describe_index_stats()
        assert ok.dimension == DIM


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "PUT", "CONNECT"])
def test_undeclared_methods_get_a_json_405(server, method):
    status, body, _ = _raw(
        server, f"{method} /vectors/upsert HTTP/1.1\r\nHost: x\r\nApi-Key: k\r\n\r\n".encode()
    )

    assert status == 405 and body["code"] == 12


def test_an_api_key_given_to_the_server_is_required(tmp_path):
    store = LocalStore(tmp_path / "keyed.sqlite3", dimension=DIM, metric="cosine")
    with LocalPineconeServer(store, api_key="s3cret") as keyed:
        with pytest.raises(pe.UnauthorizedError):
            Pinecone(api_key="guess").Index(host=keyed.url).describe_index_stats()
        assert Pinecone(api_key="s3cret").Index(host=keyed.url).describe_index_stats().dimension == DIM


def test_binding_beyond_loopback_prints_a_warning(tmp_path):
    proc = pinecone_local_process(
        *("--host", "0.0.0.0", "--port", "0", "--path", str(tmp_path / "open.sqlite3"), "--dimension", "4")
    )
    try:
        warning = proc.stderr.readline()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    assert "WARNING: listening on 0.0.0.0, not loopback" in warning
    assert "--api-key" in warning
