"""Drill fixtures: the suite-wide conftest already gives every test its own local vector store.
What a drill must leave behind is in tests.support.drills."""

from __future__ import annotations

import pytest

from tests.support.vectors import use_server


@pytest.fixture(autouse=True)
def _quick_verification(settings):
    # A failed delete leaves a namespace in place; verification would poll for it this long.
    settings.ERASURE_VERIFY_TIMEOUT_SECONDS = 1


@pytest.fixture
def index_server(make_server, settings):
    """get_index() speaks to an in-process `pinecone_local` through the real SDK, one adapter
    attempt per call: a write the server refuses reaches the drill at once."""
    server = make_server(dimension=settings.VECTOR_DIMENSION)
    use_server(settings, server)
    return server
