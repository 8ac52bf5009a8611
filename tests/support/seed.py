"""The seed's legacy layout as the migration and lineage tests use it (805 vectors in 30
namespaces, 376 in __default__, at dimension tests.support.vectors.DIM)."""

# The test creator the legacy namespaces are mapped onto.
CREATOR = "sainath.no.1"
