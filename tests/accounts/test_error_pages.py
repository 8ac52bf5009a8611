"""Refusals and missing pages are pages of the app: inside the layout, with the navigation, and
the reason; an HTMX request gets the reason alone (its fragment must not become a page)."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_role_refusal_is_a_page_with_the_navigation_and_the_reason(auditor_client):
    response = auditor_client.post(reverse("registry-run-drift"))

    html = response.content.decode()
    assert response.status_code == 403
    assert "<nav>" in html and 'id="refusal"' in html and "Your role does not allow this." in html


def test_an_htmx_refusal_is_the_reason_alone(auditor_client):
    response = auditor_client.post(reverse("registry-run-drift"), HTTP_HX_REQUEST="true")

    assert response.status_code == 403 and response.content == b"Your role does not allow this."


def test_a_missing_page_is_a_page_of_the_app(auditor_client, settings):
    settings.DEBUG = False  # production: Django's handler renders templates/404.html

    response = auditor_client.get("/creators/no.such.creator/")

    html = response.content.decode()
    assert response.status_code == 404
    assert "<nav>" in html and 'id="not-found"' in html and "/creators/no.such.creator/" in html
