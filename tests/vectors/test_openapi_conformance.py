"""pinecone_local against Pinecone's own published OpenAPI specifications (API 2026-04): for every
operation the server implements, schemathesis generates requests (the schema's examples, its
coverage cases including undeclared methods, and bounded fuzzing) and checks each answer: never a
5xx, a status code the spec declares, the declared content type, a body matching the schema.

The specifications live in `../shared/pinecone/` beside the clone (never copied into the project).
CI always has them, so there they are required; elsewhere the module is skipped, saying why."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from django.conf import settings
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.vectors import DIM, random_vectors
from twinadmin.vectors.local import LocalStore
from twinadmin.vectors.server import LocalPineconeServer

SPECS = Path(settings.BASE_DIR).parent / "shared" / "pinecone"
DATA_SPEC = SPECS / "db_data_2026-04.oas.yaml"
CONTROL_SPEC = SPECS / "db_control_2026-04.oas.yaml"
API_KEY = "conformance-key"
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
# The operations pinecone_local implements; bulk imports, integrated records, backups,
# collections and index management are not served.
DATA_OPERATIONS = {
    ("POST", "/describe_index_stats"),
    ("POST", "/query"),
    ("POST", "/vectors/delete"),
    ("GET", "/vectors/fetch"),
    ("POST", "/vectors/fetch_by_metadata"),
    ("GET", "/vectors/list"),
    ("POST", "/vectors/update"),
    ("POST", "/vectors/upsert"),
    ("GET", "/namespaces"),
    ("POST", "/namespaces"),
    ("GET", "/namespaces/{namespace}"),
    ("DELETE", "/namespaces/{namespace}"),
}
CONTROL_OPERATIONS = {("GET", "/indexes"), ("GET", "/indexes/{index_name}")}

if not (DATA_SPEC.is_file() and CONTROL_SPEC.is_file()):
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        # CI always has shared/ beside the clone: its absence there is a broken run, not a skip.
        raise RuntimeError(f"CI needs Pinecone's OpenAPI specifications in {SPECS}, shared/ beside the clone")
    pytest.skip(
        f"Pinecone's OpenAPI specifications are not in {SPECS} (shared/ beside the clone)",
        allow_module_level=True,
    )

# Bounded so the module stays well under two minutes on two busy cores (the examples and coverage
# phases are bounded by the spec; max-examples bounds fuzzing). A fixed seed and no example
# database: every run sends the same cases, and a failure reproduces. Hypothesis's health checks
# judge generation speed and filtering, not the server: off, so a busy machine cannot fail the run.
CONFIG = {
    "seed": 12,
    "suppress-health-check": ["all"],
    "generation": {"max-examples": 60, "database": "none"},
}

# Where the spec is looser than Pinecone, pinecone_local keeps Pinecone's behaviour: the spec's
# namespace names (in bodies, queries and paths) are any string, but Pinecone refuses a name that
# is not ASCII, or holds NUL, with a 400 (twinadmin.vectors.limits.normalize_namespace). Each of
# those operations declares 400, so these cases conform as they are and need no filter; the test
# of non-ASCII names below pins that behaviour down so it cannot drift toward the spec.
NON_ASCII_NAMESPACE = "espa\u00f1ol-\u540d\u524d"


def _implemented(operations: set[tuple[str, str]]):
    return lambda ctx: (ctx.operation.method.upper(), ctx.operation.path) in operations


data_schema = schemathesis.openapi.from_path(DATA_SPEC, config=SchemathesisConfig.from_dict(CONFIG)).include(
    _implemented(DATA_OPERATIONS)
)
control_schema = schemathesis.openapi.from_path(
    CONTROL_SPEC, config=SchemathesisConfig.from_dict(CONFIG)
).include(_implemented(CONTROL_OPERATIONS))


def _dense_of_dimension(value: Any) -> Any:
    if isinstance(value, list) and value and all(type(x) in (int, float) for x in value):
        return (value * DIM)[:DIM]
    return value


@data_schema.hook("map_body")
def _vectors_of_the_index_dimension(context: Any, body: Any) -> Any:
    """Generated dense vectors have any length, so nearly every upsert and query would be a 400
    for the dimension: resize each list of numbers to the index's, so successful answers (with
    scores, values and sparse parts) are checked as well as refusals."""
    if not isinstance(body, dict):
        return body
    if "vector" in body:
        body["vector"] = _dense_of_dimension(body["vector"])
    for vector in body.get("vectors") or []:
        if isinstance(vector, dict) and "values" in vector:
            vector["values"] = _dense_of_dimension(vector["values"])
    if "values" in body:
        body["values"] = _dense_of_dimension(body["values"])
    return body


@pytest.fixture(scope="module")
def pinecone_local(tmp_path_factory) -> Iterator[LocalPineconeServer]:
    """One server for the module, of a hybrid (dotproduct) index, so generated sparse parts are
    stored and answered rather than all refused."""
    path = tmp_path_factory.mktemp("conformance") / "vectors.sqlite3"
    store = LocalStore(path, dimension=DIM, metric="dotproduct")
    # Something for the spec's examples (namespace "example-namespace") and the default namespace
    # to find: fetch, list and query answer with vectors, not only empty pages.
    for namespace in ("example-namespace", ""):
        store.upsert(namespace, random_vectors(30))
    server = LocalPineconeServer(store, api_key=API_KEY).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.headers["Api-Key"] = API_KEY
        yield s


@data_schema.parametrize()
def test_data_plane_conforms(case, pinecone_local, session):
    case.call_and_validate(base_url=pinecone_local.url, session=session, checks=CHECKS)


def test_a_non_ascii_namespace_is_refused_as_pinecone_does(pinecone_local, session):
    upsert = data_schema["/vectors/upsert"]["POST"]
    case = upsert.Case(
        body={"vectors": [{"id": "v1", "values": [0.5] * DIM}], "namespace": NON_ASCII_NAMESPACE},
        headers={"Api-Key": API_KEY},
    )

    response = case.call_and_validate(base_url=pinecone_local.url, session=session, checks=CHECKS)

    assert response.status_code == 400 and "ASCII" in response.json()["message"]
    described = data_schema["/namespaces/{namespace}"]["GET"].Case(
        path_parameters={"namespace": NON_ASCII_NAMESPACE}, headers={"Api-Key": API_KEY}
    )
    response = described.call_and_validate(base_url=pinecone_local.url, session=session, checks=CHECKS)
    assert response.status_code == 400


@control_schema.parametrize()
def test_control_plane_conforms(case, pinecone_local, session):
    case.call_and_validate(base_url=pinecone_local.url, session=session, checks=CHECKS)
