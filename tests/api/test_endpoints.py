"""What the product does through the API, through the same services as the pages: creators and
twins (the codec and naming policies), twin deletions, erasure requests and their status, every
write and every erasure read audited with the client as the actor; bad input is Problem Details
and changes nothing."""

from __future__ import annotations

import pytest

from tests.api.conftest import problem
from tests.support.erasure import make_creator
from twinadmin.audit.models import AuditEntry
from twinadmin.erasure.models import ErasureRequest, TwinDeletion
from twinadmin.registry.models import Creator, Twin

pytestmark = pytest.mark.django_db


def test_a_creator_with_three_twins_by_the_pages_policies(product):
    response = product.post(
        "/creators",
        {
            "creator_id": "p.1",
            "display_name": "P",
            "twins": [
                {"twin_id": "chosen-by-product", "name": "A"},
                {"name": "Sales Bot", "naming": "semantic"},
                {"naming": "sequential"},
            ],
        },
    )
    assert response.status_code == 201
    twins = {t["twin_id"]: t for t in response.json()["twins"]}
    assert set(twins) == {"chosen-by-product", "sales-bot", "001"}
    assert twins["001"]["namespace"] == "creator_p.1_twin_001"
    actors = set(AuditEntry.objects.filter(creator_id="p.1").values_list("actor", "action"))
    assert actors == {("api:product", "creator.create"), ("api:product", "twin.create")}

    listed = product.get("/creators/p.1/twins")
    assert listed.status_code == 200
    assert [t["twin_id"] for t in listed.json()] == ["001", "chosen-by-product", "sales-bot"]


@pytest.mark.parametrize(
    "body",
    [
        {"creator_id": "Bad_Id"},
        {"creator_id": "p.2", "twins": [{"twin_id": "has_underscore"}]},
        {"creator_id": "p.2", "display_name": "a\u202eb"},
        {"creator_id": "p.2", "display_name": "a\x00b"},
        {"creator_id": "p.2", "twins": [{"naming": "semantic"}]},  # no name to derive the id from
        {"creator_id": "p.2", "twins": [{"twin_id": "x"}, {"twin_id": "x"}]},
        {"creator_id": "p.2", "twins": [{"naming": "legacy"}]},
        {},
    ],
)
def test_bad_input_is_a_422_and_nothing_is_written(product, body):
    problem(product.post("/creators", body), 422)
    assert not Creator.objects.exists() and not Twin.objects.exists()
    assert not AuditEntry.objects.filter(action__in=["creator.create", "twin.create"]).exists()


@pytest.mark.parametrize(
    "raw", [b"{", b"[" * 1500 + b"]" * 1500, b'{"creator_id": "\\ud800"}', b"[NaN]", b"\xff"]
)
def test_a_body_that_is_not_json_is_a_400(product, raw):
    problem(product.post("/creators", raw=raw), 400)


def test_a_validation_problem_names_the_field(product):
    body = problem(product.post("/creators", {"creator_id": 5}), 422)
    assert body["errors"] and body["errors"][0]["loc"][-1] == "creator_id"


def test_unknown_creators_and_requests_are_404(product):
    problem(product.get("/creators/ghost.1"), 404)
    problem(product.get("/creators/NOT VALID"), 404)
    problem(product.post("/creators/ghost.1/twins", {}), 404)
    problem(product.get("/erasure-requests/999"), 404)
    problem(product.get(f"/erasure-requests/{2**63}"), 404)
    problem(product.post("/erasure-requests", {"creator_id": "ghost.1", "reason": "r"}), 404)


def test_a_twin_deletion_is_filed_through_the_service(product):
    make_creator("p.3", ["t1"])
    response = product.post("/creators/p.3/twins/t1/deletion", {"reason": "product asked"})
    assert response.status_code == 202
    deletion = TwinDeletion.objects.get()
    assert response.json()["deletion_id"] == deletion.pk and deletion.requested_by_name == "api:product"
    assert product.get(f"/twin-deletions/{deletion.pk}").json()["status"] == "pending"
    problem(product.post("/creators/p.3/twins/nope/deletion", {"reason": "r"}), 404)
    problem(product.post("/creators/p.3/twins/t1/deletion", {"reason": "   "}), 422)


def test_an_erasure_request_and_its_status_reads_are_audited(product, approver):
    from twinadmin.erasure.services import erasure_request_approve

    make_creator("p.4", ["t1"])
    filed = product.post(
        "/erasure-requests", {"creator_id": "p.4", "reason": "account deleted", "dsr_id": "DSR-4"}
    )
    assert filed.status_code == 201
    request_id = filed.json()["request_id"]
    erasure = ErasureRequest.objects.get(pk=request_id)
    assert (erasure.ticket_reference, erasure.requested_by_name) == ("DSR-4", "api:product")
    assert filed.json()["scope"] is None

    problem(product.post("/erasure-requests", {"creator_id": "p.4", "reason": "again"}), 422)  # one open
    problem(product.get(f"/erasure-requests/{request_id}/receipt"), 409)
    erasure_request_approve(erasure=erasure, actor=approver, confirm="p.4", enqueue=False)
    status = product.get(f"/erasure-requests/{request_id}").json()

    assert status["status"] == "approved" and status["receipt_available"] is False
    assert "creator_p.4_twin_t1" in status["scope"]["namespaces"]
    reads = AuditEntry.objects.filter(
        actor="api:product", target_id=str(request_id), action__startswith="api.erasure"
    )
    assert sorted(reads.values_list("action", flat=True)) == ["api.erasure.read"]
    assert reads.get().correlation_id != erasure.correlation_id  # not part of the receipt


def test_registry_reads_are_not_audited(product):
    make_creator("p.5", ["t1"])
    before = AuditEntry.objects.count()
    assert product.get("/creators/p.5").status_code == 200
    assert product.get("/creators/p.5/twins").status_code == 200
    assert AuditEntry.objects.count() == before


def test_the_openapi_document_is_public_and_the_docs_are_for_staff(client, operator):
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200 and "/api/v1/erasure-requests" in document.json()["paths"]
    assert client.get("/api/v1/docs").status_code == 302
    client.force_login(operator)
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    assert "script-src 'self'" in docs["Content-Security-Policy"]


def test_the_clients_page_is_for_superusers(client, operator, django_user_model):
    client.force_login(operator)
    assert client.get("/api/clients/").status_code == 403
    assert client.post("/api/clients/", {"name": "x", "scopes": ["registry:read"]}).status_code == 403
    admin = django_user_model.objects.create_superuser("root", password=None)
    client.force_login(admin)

    created = client.post("/api/clients/", {"name": "crm", "scopes": ["registry:read", "erasure:read"]})

    assert created.status_code == 200
    token = created.context["token"]
    assert token and token in created.content.decode()
    assert token not in client.get("/api/clients/").content.decode()  # shown once
    assert client.post("/api/clients/crm/revoke").status_code == 302
    from twinadmin.api.models import ApiClient

    assert ApiClient.objects.get(name="crm").revoked_at is not None
    assert client.post("/api/clients/", {"name": "Bad Name", "scopes": ["registry:read"]}).status_code == 400
