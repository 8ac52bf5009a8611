"""A page does not wait out a worker's retry deadline: under a rate limit that will not lift, a
search answers within PINECONE_PAGE_DEADLINE_SECONDS saying the index refused, while calls made
outside a web request (a worker's job) keep PINECONE_RETRY_DEADLINE_SECONDS; the deadline travels
with the page's calls into the pool that fans them out."""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.urls import reverse

from tests.support.search import CREATOR
from tests.support.vectors import use_server
from twinadmin.lib.concurrency import bounded_map
from twinadmin.vectors.deadlines import call_deadline, deadline_at_most
from twinadmin.vectors.server.rate_limits import RateLimiter, RateLimits

pytestmark = pytest.mark.django_db


def test_a_search_page_under_a_rate_limit_that_never_lifts_answers_within_its_deadline(
    operator_client, layout, make_server, settings
):
    server = make_server(store=layout.index)
    use_server(settings, server, retry_attempts=None)
    settings.PINECONE_RETRY_DEADLINE_SECONDS = 300.0  # a worker's: minutes
    settings.PINECONE_PAGE_DEADLINE_SECONDS = 1.0
    # One query a second per namespace, and the limiter's clock stopped: after a namespace's
    # first query, every query of it is answered 429 (Retry-After 1 s) for as long as anyone
    # retries.
    server.rate_limiter = RateLimiter(RateLimits({"query_per_namespace": 1}), clock=lambda: 1000.0)
    url = reverse("search-search-twins", args=[CREATOR])
    form = {"twins": ["t1", "t2"], "include_shared": "on", "vector_id": "", "vector": json.dumps([0.3] * 8)}
    first = operator_client.post(url, {**form, "top_k": "5"})  # each namespace's one query
    assert first.status_code == 200 and "The index failed" not in first.content.decode()

    began = time.monotonic()
    response = operator_client.post(url, {**form, "top_k": "5"})
    took = time.monotonic() - began

    assert response.status_code == 429  # busy, try again: not "bad input"
    body = response.content.decode()
    assert "The index failed while searching" in body and "query_per_namespace" in body
    assert took < 30, took  # not the worker's 300 s


def test_the_page_deadline_applies_inside_a_page_and_its_pools_only():
    assert call_deadline(300.0) == 300.0  # a worker: the configured deadline
    with deadline_at_most(1.5):
        assert 1.0 < call_deadline(300.0) <= 1.5  # what is left of it (a loaded machine is slow)
        assert call_deadline(0.5) == 0.5  # a shorter configured one still wins
        # The pool's threads run the page's calls with the page's deadline.
        left = list(bounded_map(lambda _: call_deadline(300.0), range(6), workers=3))
        assert all(1.0 < seconds <= 1.5 for seconds in left), left
    assert call_deadline(300.0) == 300.0


def test_a_page_s_deadline_is_one_point_in_time_for_all_its_calls():
    """A page making several calls waits its deadline once: what a later call may retry for is
    what is left, and once the deadline has passed a call is tried once (0 s of retrying)."""
    with deadline_at_most(0.3):
        time.sleep(0.2)
        assert call_deadline(300.0) <= 0.1
        with deadline_at_most(5.0):  # an inner block cannot extend the page's deadline
            assert call_deadline(300.0) <= 0.1
        time.sleep(0.15)
        assert call_deadline(300.0) == 0.0


def test_a_page_does_not_wait_out_a_worker_s_opening_of_the_index(operator_client, make_server, settings):
    """A thread opening the index with a worker's deadline (minutes, under a refusing index) does
    not hold every page behind it: the page opens the index itself, tries for its own deadline,
    and answers. (The index cache used to open the index inside its lock.)"""
    from twinadmin.vectors import get_index
    from twinadmin.vectors.server.faults import FaultConfig

    server = make_server(faults=FaultConfig(fail_429=1.0, retry_after=0.05))
    use_server(settings, server)
    settings.PINECONE_RETRY_DEADLINE_SECONDS = 300.0
    settings.PINECONE_PAGE_DEADLINE_SECONDS = 0.5
    opening = threading.Thread(target=get_index, daemon=True)  # a worker's call: no page deadline
    opening.start()
    try:
        time.sleep(0.3)
        assert opening.is_alive()  # still retrying its 429s
        began = time.monotonic()
        response = operator_client.get(reverse("registry-list-vectors"), {"namespace": "creator_a"})
        took = time.monotonic() - began
        assert response.status_code == 503  # said: the index did not answer; not a 500, not a hang
        assert "did not answer" in response.content.decode()
        assert took < 10, took
        assert opening.is_alive()  # the worker's opening is still riding out the limit
    finally:
        server.set_faults(fail_429=0.0)  # the worker's opening then succeeds, and its thread ends
        opening.join(timeout=30)
