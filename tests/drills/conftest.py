"""Drill fixtures: the suite-wide conftest already gives every test its own local vector store."""

from __future__ import annotations

import pytest

from tests.vectors.conftest import make_server, use_server  # noqa: F401  (make_server: a fixture)
from twinadmin.registry import codec
from twinadmin.registry.models import Creator, Twin
from twinadmin.vectors import get_index


@pytest.fixture(autouse=True)
def _quick_verification(settings):
    # A failed delete leaves a namespace in place; verification would poll for it this long.
    settings.ERASURE_VERIFY_TIMEOUT_SECONDS = 1


@pytest.fixture
def index_server(make_server, settings):  # noqa: F811  (the fixture imported above)
    """get_index() speaks to an in-process `pinecone_local` through the real SDK, one adapter
    attempt per call: a write the server refuses reaches the drill at once."""
    server = make_server(dimension=settings.VECTOR_DIMENSION)
    use_server(settings, server)
    return server


def leftovers(creator_id: str) -> dict:
    """What of a scratch creator is still anywhere: namespaces in the index, registry rows."""
    prefix = codec.creator_namespace(creator_id)
    names = [
        info.name
        for info in get_index().iter_namespaces(prefix=prefix)
        if codec.parse_namespace(info.name).is_owned_by(creator_id)
    ]
    return {
        "namespaces": names,
        "creators": Creator.objects.filter(creator_id=creator_id).count(),
        "twins": Twin.objects.filter(creator__creator_id=creator_id).count(),
    }


NOTHING = {"namespaces": [], "creators": 0, "twins": 0}
