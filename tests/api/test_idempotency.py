"""Idempotency-Key: a retried write returns the first result and does nothing twice; the same key
with another body is a 422; two concurrent calls with one key have one effect."""

from __future__ import annotations

import pytest

from tests.api.conftest import concurrently, problem
from tests.support.erasure import make_creator
from twinadmin.audit.models import AuditEntry
from twinadmin.erasure.models import ErasureRequest
from twinadmin.registry.models import Creator, Twin

BODY = {"creator_id": "c.1", "display_name": "C", "twins": [{"naming": "sequential"}, {"naming": "uuid"}]}


@pytest.mark.django_db
def test_a_retry_with_the_same_key_returns_the_first_result_and_creates_nothing_more(product):
    first = product.post("/creators", BODY, **{"Idempotency-Key": "k-1"})
    again = product.post("/creators", BODY, **{"Idempotency-Key": "k-1"})

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # the same uuid twin, not a new one
    assert again["Idempotent-Replayed"] == "true"
    assert Twin.objects.filter(creator__creator_id="c.1").count() == 2
    assert AuditEntry.objects.filter(action="creator.create", creator_id="c.1").count() == 1


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_a_422_and_changes_nothing(product):
    assert product.post("/creators", BODY, **{"Idempotency-Key": "k-2"}).status_code == 201

    body = problem(product.post("/creators", {"creator_id": "c.2"}, **{"Idempotency-Key": "k-2"}), 422)

    assert "another request" in body["detail"]
    assert not Creator.objects.filter(creator_id="c.2").exists()


@pytest.mark.django_db
def test_a_refusal_is_the_keys_result_too(product):
    """A refused call keeps its key: the retry gets the same refusal, not a second attempt."""
    make_creator("c.3")
    first = problem(product.post("/creators", {"creator_id": "c.3"}, **{"Idempotency-Key": "k-3"}), 409)
    again = problem(product.post("/creators", {"creator_id": "c.3"}, **{"Idempotency-Key": "k-3"}), 409)
    assert first == again and "already exists" in first["detail"]


@pytest.mark.django_db
def test_keys_are_per_client(make_api):
    one, two = make_api(name="one"), make_api(name="two")
    assert one.post("/creators", {"creator_id": "c.4"}, **{"Idempotency-Key": "same"}).status_code == 201
    # Another client's key of the same name is its own: here its call runs (and is refused).
    problem(two.post("/creators", {"creator_id": "c.4"}, **{"Idempotency-Key": "same"}), 409)


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["", "x" * 256, "é", "a\tb"])
def test_a_malformed_key_is_a_400(product, key):
    problem(product.post("/creators", {"creator_id": "c.5"}, **{"Idempotency-Key": key}), 400)
    assert not Creator.objects.filter(creator_id="c.5").exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_calls_with_one_key_file_one_request(product):
    """Real threads, each with its own database connection, released together: one erasure
    request, one filing entry, and both answers the same."""
    make_creator("c.6")
    body = {"creator_id": "c.6", "reason": "account deleted", "dsr_id": "DSR-6"}

    def call() -> tuple[int, dict]:
        response = product.post("/erasure-requests", body, **{"Idempotency-Key": "dsr-6"})
        return response.status_code, response.json()

    answers = concurrently(4, call)

    assert len(answers) == 4
    assert {status for status, _ in answers} == {201}
    assert len({body["request_id"] for _, body in answers}) == 1
    assert ErasureRequest.objects.filter(creator_id="c.6").count() == 1
    assert AuditEntry.objects.filter(action="creator.erase.request", creator_id="c.6").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("fault", ["429", "503"])
def test_an_index_that_refuses_is_a_503_or_429_and_the_same_key_may_be_retried(
    product, make_server, settings, fault
):
    """Filing an erasure of an erased creator reads the index (is anything of theirs left? here
    it is: vectors written after the erasure).
    An index that refuses makes the call a 429 (busy, Retry-After) or a 503 (down), Problem
    Details and not a 500; the key is not spent on it, so the product's retry with the same key
    files the request once the index answers."""
    from tests.support.vectors import fill, use_server
    from twinadmin.vectors.server.faults import FaultConfig

    make_creator("c.9")
    Creator.objects.filter(creator_id="c.9").update(status=Creator.Status.ERASED)
    refusing = FaultConfig(fail_429=1.0, retry_after=2.0) if fault == "429" else FaultConfig(fail_503=1.0)
    server = make_server(faults=refusing)
    fill(server.store, {"creator_c.9": 3})  # written after the erasure: it must be erased again
    use_server(settings, server)
    settings.PINECONE_PAGE_DEADLINE_SECONDS = 0.3
    body = {"creator_id": "c.9", "reason": "DSR", "dsr_id": "DSR-9"}

    refused = product.post("/erasure-requests", body, **{"Idempotency-Key": "k-9"})

    answer = problem(refused, int(fault))
    assert "index" in answer["detail"]
    if fault == "429":
        assert refused["Retry-After"] == "2"
    assert not ErasureRequest.objects.filter(creator_id="c.9").exists()

    server.set_faults(fail_429=0.0, fail_503=0.0)
    again = product.post("/erasure-requests", body, **{"Idempotency-Key": "k-9"})
    assert again.status_code == 201, again.content[:300]
    assert again.get("Idempotent-Replayed") is None
    assert ErasureRequest.objects.filter(creator_id="c.9").count() == 1
