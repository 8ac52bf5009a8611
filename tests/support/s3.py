"""An S3 API on loopback for the backup tests: moto's standalone server (PyPI `moto[server]`)
in its own process on a free port, a bucket per test, and a proxy in front of it that can start
refusing writes (the store failing mid-backup). Backups reach it through the real client
(obstore) exactly as they would reach a production bucket: only the endpoint differs."""

from __future__ import annotations

import http.client
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import obstore
import pytest
import requests
from obstore.store import S3Store

from migrations_app import storage

START_TIMEOUT = 30.0


@dataclass
class MotoServer:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_moto(log_path: Path) -> MotoServer:
    """`python -m moto.server` on 127.0.0.1 and a port the OS picks (read from its log)."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = re.search(rb"Running on (http://127\.0\.0\.1:\d+)", log_path.read_bytes())
        if found:
            return MotoServer(process=process, url=found.group(1).decode(), log_path=log_path)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"moto server did not start: {log_path.read_text(errors='replace')[-2000:]}")


def create_bucket(endpoint: str, bucket: str) -> None:
    requests.put(f"{endpoint}/{bucket}", timeout=10).raise_for_status()


def _direct(endpoint: str, bucket: str) -> S3Store:
    """A client of its own on the bucket, past the backup code (what an operator's tool sees)."""
    return S3Store(
        bucket,
        endpoint=endpoint,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
        client_options={"allow_http": True},
        virtual_hosted_style_request=False,
    )


def bucket_objects(endpoint: str, bucket: str) -> list[str]:
    """Every key in the bucket."""
    return [meta["path"] for chunk in obstore.list(_direct(endpoint, bucket)) for meta in chunk]


def object_bytes(endpoint: str, bucket: str, key: str) -> bytes:
    return bytes(obstore.get(_direct(endpoint, bucket), key).bytes())


def object_put(endpoint: str, bucket: str, key: str, data: bytes) -> None:
    obstore.put(_direct(endpoint, bucket), key, data)


_REFUSAL = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
    b"<Message>writes refused by the test's fault proxy</Message></Error>"
)


@dataclass
class FaultProxy:
    """A forwarding HTTP proxy to the S3 server that refuses writes (PUT/POST: objects, parts,
    completing uploads) once `writes_allowed` of them have passed; None: never refuses."""

    target: str
    writes_allowed: int | None = None
    writes_seen: int = 0
    refused: int = 0
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        proxy = self
        target = urlsplit(self.target)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.command in ("PUT", "POST"):
                    proxy.writes_seen += 1
                    if proxy.writes_allowed is not None and proxy.writes_seen > proxy.writes_allowed:
                        proxy.refused += 1
                        self.send_response(403)
                        self.send_header("Content-Type", "application/xml")
                        self.send_header("Content-Length", str(len(_REFUSAL)))
                        self.end_headers()
                        self.wfile.write(_REFUSAL)
                        return
                upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = target.netloc
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                # A HEAD's length is the object's, not of the (empty) body.
                skipped = ("transfer-encoding", "connection") + (
                    () if self.command == "HEAD" else ("content-length",)
                )
                for key, value in answer.getheaders():
                    if key.lower() not in skipped:
                        self.send_header(key, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward  # noqa: N815

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@dataclass
class S3Backups:
    """Backups of this test in a bucket of their own; `env` starts workers on the same."""

    endpoint: str
    bucket: str
    env: dict[str, str]
    server: MotoServer

    def object_keys(self) -> list[str]:
        return bucket_objects(self.server.url, self.bucket)


def aws_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


def use_s3(
    settings: Any, monkeypatch: pytest.MonkeyPatch, server: MotoServer, *, endpoint: str = ""
) -> S3Backups:
    """Point this test's backups (and the workers started with `.env`) at a new bucket, through
    `endpoint` (the server itself, or a proxy in front of it)."""
    bucket = f"bk-{uuid.uuid4().hex[:12]}"
    create_bucket(server.url, bucket)
    env = aws_env(endpoint or server.url)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings.MIGRATION_BACKUP_URL = f"s3://{bucket}/backups"
    env["MIGRATION_BACKUP_URL"] = settings.MIGRATION_BACKUP_URL
    storage.stores_reset()
    return S3Backups(endpoint=endpoint or server.url, bucket=bucket, env=env, server=server)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = start_moto(tmp_path_factory.mktemp("moto") / "moto.log")
    yield server
    server.stop()


@pytest.fixture
def s3_backups(
    settings: Any, monkeypatch: pytest.MonkeyPatch, moto_server: MotoServer
) -> Iterator[S3Backups]:
    yield use_s3(settings, monkeypatch, moto_server)
    storage.stores_reset()
