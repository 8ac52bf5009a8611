"""Lineage tests run on the seed's legacy layout: the migration fixtures, shared."""

from tests.migrations_app.conftest import (  # noqa: F401  (fixtures)
    _migration_settings,
    creator,
    pinecone_local,
    seed_data,
    seeded,
)
