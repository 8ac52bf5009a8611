"""A page whose view lets an index error through (here: starting a drill, which checks the index
for the scratch creator first) answers the index's state, not a 500: 429 "busy" with
Retry-After while its rate limit holds past the page's deadline, 503 while it is down, and the
same page works again once the index answers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.support.vectors import use_server
from twinadmin.drills.models import DrillRun
from twinadmin.vectors.server.faults import FaultConfig

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("faults", "status", "heading"),
    [
        (FaultConfig(fail_429=1.0, retry_after=1.0), 429, "The index is busy"),
        (FaultConfig(fail_503=1.0), 503, "The index did not answer"),
    ],
)
def test_starting_a_drill_while_the_index_refuses_says_so_and_starts_nothing(
    operator_client, make_server, settings, faults, status, heading
):
    server = make_server(faults=faults)
    use_server(settings, server)
    settings.PINECONE_PAGE_DEADLINE_SECONDS = 0.3

    response = operator_client.post(reverse("drills-run-drill"))

    assert response.status_code == status
    body = response.content.decode()
    assert heading in body and "try again in a moment" in body
    if status == 429:
        assert response["Retry-After"] == "1"
    # A POST's address answers 405 to a GET: the page does not offer it as "Try again".
    assert f'href="{reverse("drills-run-drill")}"' not in body
    assert not DrillRun.objects.exists()

    server.set_faults(fail_429=0.0, fail_503=0.0)
    again = operator_client.post(reverse("drills-run-drill"))
    assert again.status_code == 302 and DrillRun.objects.count() == 1
