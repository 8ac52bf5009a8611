"""Per-client rate limits: past API_RATE_LIMIT calls in a window, 429 with Retry-After and a
Problem Details body; other clients and the next window are not affected."""

from __future__ import annotations

import time

import pytest

from tests.api.conftest import problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    """Time is a process boundary: the window is read from it."""
    now = [1_800_000_000.0 + 5]  # 5 s into a minute

    monkeypatch.setattr(time, "time", lambda: now[0])
    return now


def test_past_the_limit_a_429_with_retry_after(make_api, settings, clock):
    settings.API_RATE_LIMIT_CALLS, settings.API_RATE_LIMIT_SECONDS = 3, 60
    busy, other = make_api(name="busy"), make_api(name="other")
    for _ in range(3):
        assert busy.get("/creators/nobody.1").status_code == 404

    refused = busy.get("/creators/nobody.1")

    body = problem(refused, 429)
    assert refused["Retry-After"] == "55"
    assert "rate-limited" in body["type"]
    assert other.get("/creators/nobody.1").status_code == 404
    clock[0] += 55  # the next window
    assert busy.get("/creators/nobody.1").status_code == 404


def test_a_refused_write_changes_nothing(make_api, settings, clock):
    from twinadmin.registry.models import Creator

    settings.API_RATE_LIMIT_CALLS, settings.API_RATE_LIMIT_SECONDS = 1, 60
    caller = make_api()
    assert caller.post("/creators", {"creator_id": "r.1"}).status_code == 201
    problem(caller.post("/creators", {"creator_id": "r.2"}), 429)
    assert not Creator.objects.filter(creator_id="r.2").exists()
