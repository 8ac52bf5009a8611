"""Fixtures for the vector layer: the two contract targets (the local store, and the Pinecone
adapter against the local server)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.vectors import DIM, adapter_for
from twinadmin.vectors.base import VectorIndex
from twinadmin.vectors.local import LocalStore


@pytest.fixture(autouse=True)
def _vector_settings(settings, tmp_path: Path) -> None:
    """What these tests assume of get_index(), whatever the suite-wide defaults become: a fresh
    local store of dimension DIM per test."""
    settings.VECTOR_BACKEND = "local"
    settings.VECTOR_LOCAL_PATH = tmp_path / "vectors.sqlite3"
    settings.VECTOR_DIMENSION = DIM
    settings.VECTOR_METRIC = "cosine"


@pytest.fixture(params=["local", "sdk"], ids=["local-store", "sdk-via-local-server"])
def make_index(request, tmp_path: Path, make_server) -> Callable[..., VectorIndex]:
    """Contract target factory: the local store itself, or the Pinecone adapter driving the real
    SDK against the local server. Same tests, same assertions."""
    target = request.param
    made: list[VectorIndex] = []

    def make(*, dimension: int = DIM, metric: str = "cosine") -> VectorIndex:
        if target == "local":
            index: VectorIndex = LocalStore(
                tmp_path / f"local-{len(made)}.sqlite3", dimension=dimension, metric=metric
            )
        else:
            index = adapter_for(make_server(dimension=dimension, metric=metric))
        made.append(index)
        return index

    yield make
    for index in made:
        index.close()


@pytest.fixture
def index(make_index) -> VectorIndex:
    return make_index()
