"""Each endpoint answers only a token holding its scope; a revoked or unknown token is a 401;
tokens are stored only as digests and shown once; no scope reaches approval."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tests.api.conftest import problem
from tests.support.erasure import make_creator
from twinadmin.api.endpoints import api
from twinadmin.api.models import SCOPE_NAMES, ApiClient, WebhookEndpoint
from twinadmin.audit.models import AuditEntry
from twinadmin.erasure.models import ErasureRequest, TwinDeletion
from twinadmin.registry.models import Creator, Twin

pytestmark = pytest.mark.django_db

# (method, path, scope, body, success status): every operation of the API.
CALLS = [
    ("POST", "/creators", "registry:write", {"creator_id": "n.1"}, 201),
    ("POST", "/creators/a.1/twins", "registry:write", {"twin_id": "t9"}, 201),
    ("GET", "/creators/a.1", "registry:read", None, 200),
    ("PATCH", "/creators/a.1", "registry:write", {"display_name": "A"}, 200),
    ("PUT", "/creators/a.1", "registry:write", {"display_name": "A", "twins": [{"twin_id": "t1"}]}, 200),
    ("PATCH", "/creators/a.1/twins/t1", "registry:write", {"name": "One"}, 200),
    ("GET", "/creators/a.1/twins", "registry:read", None, 200),
    ("POST", "/creators/a.1/twins/t1/deletion", "twins:delete", {"reason": "asked"}, 202),
    ("GET", "/twin-deletions/{deletion}", "twins:delete", None, 200),
    ("POST", "/erasure-requests", "erasure:request", {"creator_id": "a.1", "reason": "DSAR"}, 201),
    ("GET", "/erasure-requests/{erasure}", "erasure:read", None, 200),
    ("GET", "/erasure-requests/{erasure}/receipt", "erasure:read", None, 409),
    ("POST", "/webhooks", "webhooks:write", {"url": "http://127.0.0.1:9/h", "events": ["twin.deleted"]}, 201),
    ("DELETE", "/webhooks/{webhook}", "webhooks:write", None, 204),
]


def _state() -> tuple[int, ...]:
    return (
        Creator.objects.count(),
        Twin.objects.count(),
        TwinDeletion.objects.count(),
        ErasureRequest.objects.count(),
        WebhookEndpoint.objects.filter(disabled_at__isnull=True).count(),
    )


@pytest.fixture
def world(db, settings, operator):
    from twinadmin.erasure.services import erasure_request_file, twin_deletion_request

    settings.API_WEBHOOK_ALLOW_PRIVATE = True
    make_creator("a.1", ["t1", "t2"])
    make_creator("b.2")
    deletion = twin_deletion_request(
        creator_id="a.1", twin_id="t2", reason="r", confirm="t2", actor=operator, enqueue=False
    )
    erasure = erasure_request_file(
        creator_id="b.2", reason="r", confirm="b.2", actor=operator, notify_approvers=False
    )
    return {"deletion": deletion.pk, "erasure": erasure.pk}


def _call(caller, method, path, body):
    if method == "GET":
        return caller.get(path)
    if method == "DELETE":
        return caller.delete(path)
    return getattr(caller, method.lower())(path, body)


def test_every_operation_is_in_this_table():
    paths = api.get_openapi_schema()["paths"]
    documented = {(m.upper(), p.removeprefix("/api/v1")) for p, ops in paths.items() for m in ops}
    listed = {
        (
            m,
            p.replace("{deletion}", "{deletion_id}")
            .replace("{erasure}", "{request_id}")
            .replace("{webhook}", "{webhook_id}")
            .replace("a.1", "{creator_id}")
            .replace("/twins/t1", "/twins/{twin_id}"),
        )
        for m, p, *_ in CALLS
    }
    assert documented == listed


@pytest.mark.parametrize(
    ("method", "path", "scope", "body", "ok"), CALLS, ids=[f"{c[0]} {c[1]}" for c in CALLS]
)
def test_a_token_without_the_scope_is_refused_and_nothing_changes(
    make_api, world, method, path, scope, body, ok
):
    without = make_api(*[s for s in SCOPE_NAMES if s != scope], name="narrow")
    webhook = make_api("webhooks:write", name="hooks")
    hook = webhook.post("/webhooks", {"url": "http://127.0.0.1:9/h", "events": ["twin.deleted"]}).json()
    url = path.format(webhook=hook["webhook_id"], **world)
    before = _state()

    body_of = problem(_call(without, method, url, body), 403)

    assert scope in body_of["detail"]
    assert _state() == before
    refused = AuditEntry.objects.filter(action="api.refused", actor="api:narrow").get()
    assert refused.details["scope"] == scope and refused.outcome == "failure"
    # The same call with the scope goes through (the webhook's own client owns the endpoint).
    allowed = webhook if scope == "webhooks:write" else make_api(scope, name="wide")
    assert _call(allowed, method, url, body).status_code == ok


def test_a_revoked_token_is_a_401_and_changes_nothing(make_api, world):
    caller = make_api("registry:write", name="old")
    assert caller.post("/creators", {"creator_id": "n.1"}).status_code == 201
    call_command("api_client_revoke", "old", stdout=io.StringIO())

    problem(caller.post("/creators", {"creator_id": "n.2"}), 401)

    assert not Creator.objects.filter(creator_id="n.2").exists()
    assert AuditEntry.objects.filter(action="api.client.revoke", target_id="api:old").count() == 1


@pytest.mark.parametrize("header", ["", "Bearer ", "Bearer twa_nope", "Basic dXNlcjpwdw==", "Bearer \x7f"])
def test_no_token_or_an_unknown_one_is_a_401(db, header):
    from django.test import Client

    response = Client().get("/api/v1/creators/a.1", headers={"Authorization": header} if header else {})
    problem(response, 401)


def test_the_command_prints_the_token_once_and_stores_only_its_digest(db):
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "api_client_create",
        "desk",
        "--scope",
        "erasure:request",
        "--scope",
        "erasure:read",
        stdout=out,
        stderr=err,
    )
    token = out.getvalue().strip()
    client = ApiClient.objects.get(name="desk")
    assert token.startswith(client.token_prefix) and len(token) > 40
    assert client.scopes == ["erasure:read", "erasure:request"]
    assert token not in {client.token_sha256, client.token_prefix} and token not in err.getvalue()
    entry = AuditEntry.objects.get(action="api.client.create", target_id="api:desk")
    assert token not in str(entry.details) and entry.actor == "cli:api_client_create"


def test_no_scope_reaches_approval(product, world):
    """Every scope at once, and still the request waits for an approver on the pages."""
    response = product.post("/erasure-requests", {"creator_id": "a.1", "reason": "DSAR", "dsr_id": "DSR-1"})
    assert response.status_code == 201 and response.json()["status"] == "pending"
    paths = api.get_openapi_schema()["paths"]
    assert not any("approv" in p for p in paths)
    assert ErasureRequest.objects.get(pk=response.json()["request_id"]).status == "pending"
