"""A creator with twins and vectors in the real local store (dimension 8), the layout of
tests.support.search with its brute-force reference, and the same store through the real SDK."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.search import Layout, build_layout
from tests.support.vectors import DIM, adapter_for
from twinadmin.vectors import get_index
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.pinecone_adapter import PineconeIndex


@pytest.fixture(params=["cosine"])
def metric(request) -> str:
    return request.param


@pytest.fixture
def layout(db, settings, tmp_path: Path, metric: str) -> Layout:
    settings.VECTOR_METRIC = metric
    settings.VECTOR_LOCAL_PATH = tmp_path / f"vectors-{metric}.sqlite3"
    settings.VECTOR_DIMENSION = DIM
    return build_layout(get_index())


@pytest.fixture
def sdk_index(layout: Layout, make_server) -> Callable[[], PineconeIndex]:
    """The real pinecone SDK against the local server, serving the layout's own store."""
    assert isinstance(layout.index, LocalStore)
    index = adapter_for(make_server(store=layout.index))
    yield index
    index.close()
