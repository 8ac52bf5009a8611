"""/healthz: 200 when the database, the broker and the vector index answer, 503 naming what does
not, within a bounded time, with no login and nothing secret in the answer."""

from __future__ import annotations

import threading
import time

import pytest

from tests.ops.conftest import REFUSING_HOST

pytestmark = pytest.mark.django_db

# What a load balancer allows a probe (the checks themselves have 2 s).
ANSWER_WITHIN_SECONDS = 3.0


def _get(client, **extra):
    started = time.monotonic()
    response = client.get("/healthz", **extra)
    return response, time.monotonic() - started


def test_a_healthy_stack_answers_200_with_every_check_timed(client) -> None:
    response, _ = _get(client)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "vector_index"}
    for check in body["checks"].values():
        assert check["ok"] is True
        assert check["ms"] >= 0
    assert "no-cache" in response["Cache-Control"]


def test_an_unreachable_broker_is_named_in_a_503_without_its_password(client, broker_url) -> None:
    broker_url("redis://:hunter2-broker-secret@127.0.0.1:1/0")
    response, seconds = _get(client)
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["failing"] == ["broker"]
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["error"]  # a short reason: the error's class
    assert body["checks"]["database"]["ok"] and body["checks"]["vector_index"]["ok"]
    text = response.content.decode()
    assert "hunter2" not in text
    assert "127.0.0.1" not in text
    assert seconds < ANSWER_WITHIN_SECONDS


def test_a_pinecone_host_that_refuses_is_named_without_the_api_key(client, settings) -> None:
    settings.VECTOR_BACKEND = "pinecone"
    settings.PINECONE_API_KEY = "pcsk-never-show-me"
    settings.PINECONE_INDEX_HOST = f"http://{REFUSING_HOST}"
    settings.PINECONE_RETRY_ATTEMPTS = 1
    response, seconds = _get(client)
    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["vector_index"]
    assert body["checks"]["vector_index"]["error"]
    assert "pcsk-never-show-me" not in response.content.decode()
    assert REFUSING_HOST not in response.content.decode()
    assert seconds < ANSWER_WITHIN_SECONDS


def test_an_index_that_never_answers_times_out_and_is_probed_once_at_a_time(
    client, settings, silent_server
) -> None:
    settings.VECTOR_BACKEND = "pinecone"
    settings.PINECONE_API_KEY = "test-key"
    settings.PINECONE_INDEX_HOST = silent_server
    settings.PINECONE_RETRY_ATTEMPTS = 1
    first, seconds = _get(client)
    assert first.status_code == 503
    assert first.json()["failing"] == ["vector_index"]
    assert "timed out" in first.json()["checks"]["vector_index"]["error"]
    assert seconds < ANSWER_WITHIN_SECONDS
    # Asked again while the first probe still waits: the answer waits for that probe, and no
    # second one is started (a load balancer polling a dead index must not pile up threads).
    second, seconds = _get(client)
    assert second.status_code == 503
    assert seconds < ANSWER_WITHIN_SECONDS
    probes = [t for t in threading.enumerate() if t.name == "healthz-vector_index"]
    assert len(probes) == 1


def test_head_is_answered_and_other_methods_refused(client) -> None:
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
    assert client.put("/healthz").status_code == 405


def test_no_login_and_no_csrf_token_needed(client) -> None:
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.get("/healthz").status_code == 200
    assert strict.post("/healthz").status_code == 405  # not 403: CSRF plays no part
    assert client.get("/healthz").status_code == 200
