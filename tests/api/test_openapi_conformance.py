"""schemathesis against the API's own OpenAPI document, over the WSGI application: for every
operation, generated requests (coverage cases, undeclared methods, bounded fuzzing) with a token
holding every scope; every answer must be no 5xx, a declared status code, the declared content
type (application/problem+json for errors) and a body matching the schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.erasure import make_creator
from twinadmin.api.models import SCOPE_NAMES
from twinadmin.api.services import api_client_create
from twinadmin.wsgi import application

CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# A fixed seed and no example database: every run sends the same cases. Bounded so the module
# stays under a minute on two busy cores.
CONFIG = {
    "seed": 18,
    "suppress-health-check": ["all"],
    "generation": {"max-examples": 10, "database": "none"},
}

schema = schemathesis.openapi.from_wsgi(
    "/api/v1/openapi.json", application, config=SchemathesisConfig.from_dict(CONFIG)
)


@pytest.fixture
def token(db, settings) -> Iterator[str]:
    settings.API_RATE_LIMIT_CALLS = 1_000_000
    # No DNS look-ups of generated host names: only the scheme check applies.
    settings.API_WEBHOOK_ALLOW_PRIVATE = True
    make_creator("a.1", ["t1", "t2"])
    _, token = api_client_create(name="fuzz", scopes=list(SCOPE_NAMES), actor="cli:test")
    # As Django's test client does: the end of a request must not close the test's connection
    # (its transaction is the test's).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield token
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
def test_the_api_conforms_to_its_openapi_document(case, token):
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
