"""The versioned JSON API (`/api/v1/`), django-ninja: thin handlers that check the token's scope
(ApiToken), parse the body (schemas.py) and call the registry's and erasure's own services with
the client as the actor (`api:<name>`); errors are Problem Details (problems.py).

Audited: every write (by the services themselves, with the client as actor), every read of an
erasure request or its receipt (personal-data-adjacent), every refusal of a scope. Not audited:
reads of the registry (creators, twins): they say nothing about a person beyond what the product
itself sent, and auditing them would put the log's single writer lock on every list call.
"""

import math
import uuid
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import NinjaAPI, Status
from ninja.openapi.docs import Swagger
from ninja.parser import Parser
from ninja.security import HttpBearer

from twinadmin.accounts.roles import ALL_ROLES, has_role, second_factor_missing
from twinadmin.api import schemas
from twinadmin.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from twinadmin.api.idempotency import idempotent
from twinadmin.api.models import ApiClient
from twinadmin.api.problems import TITLES, Problem, RateLimited, install_handlers
from twinadmin.api.services import (
    api_client_authenticate,
    client_audit,
    rate_limit_take,
    webhook_endpoint_create,
    webhook_endpoint_disable,
)
from twinadmin.audit.keys import AuditKeyError
from twinadmin.audit.proofs import CheckpointRefused
from twinadmin.audit.services import audit_record
from twinadmin.erasure.models import ErasureRequest, TwinDeletion
from twinadmin.erasure.receipts import erasure_receipt_signed
from twinadmin.erasure.services import erasure_request_file, twin_deletion_request
from twinadmin.lib.text import UserJsonError, json_parse
from twinadmin.registry import codec
from twinadmin.registry.models import Creator, Twin
from twinadmin.registry.services import (
    RegistryError,
    creator_create,
    creator_update,
    twin_create,
    twin_update,
)


class _Parser(Parser):
    """orjson through the project's json_parse: refuses lone surrogates, NaN and deep nesting."""

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            return json_parse(request.body, what="The request body")
        except UserJsonError as exc:
            raise Problem(400, str(exc)) from None


class _StaffSwagger(Swagger):
    """The docs page (local static files, so it works offline and under the CSP) for staff who
    are signed in; the OpenAPI document itself is public, it holds no secrets."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not has_role(request.user, *ALL_ROLES) or second_factor_missing(request.user):
            return HttpResponse("Your role does not allow this.", status=403, content_type="text/plain")
        return super().render_page(request, api, **kwargs)


class ApiToken(HttpBearer):
    """`Authorization: Bearer <token>` of an active client holding `scope`. Rate-limited per client
    before the scope is looked at: a client probing scopes spends its budget too."""

    def __init__(self, scope: str) -> None:
        super().__init__()
        self.scope = scope

    def authenticate(self, request: HttpRequest, token: str) -> ApiClient | None:
        client = api_client_authenticate(token)
        if client is None:
            return None
        wait = rate_limit_take(client)
        if wait is not None:
            raise RateLimited(math.ceil(wait))
        if self.scope not in client.scopes:
            details = {"scope": self.scope, "method": request.method, "path": request.path[:300]}
            client_audit(client, client.actor, "api.refused", details, outcome="failure")
            raise Problem(403, f"This token lacks the scope {self.scope!r}.", kind="scope")
        return client


def _client(request: HttpRequest) -> ApiClient:
    """The client ApiToken authenticated (ninja sets `request.auth`)."""
    return request.auth  # type: ignore[attr-defined]


def _responses(ok: int | tuple[int, ...], schema: Any, *errors: int) -> dict[int, Any]:
    oks = ok if isinstance(ok, tuple) else (ok,)
    return {
        **{code: schema for code in oks},
        **{code: schemas.Problem for code in (400, 401, 403, 422, 429, *errors)},
    }


# The methods whose endpoints are wrapped in @idempotent.
IDEMPOTENT_METHODS = ("post", "patch", "put")


class _Api(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        """Errors are `application/problem+json` (ninja would say application/json), and every
        write operation (POST, PATCH, PUT) documents its Idempotency-Key header."""
        schema = super().get_openapi_schema(*args, **kwargs)
        for path_item in schema["paths"].values():
            for method, operation in path_item.items():
                for code, response in operation.get("responses", {}).items():
                    if int(code) >= 400 and "application/json" in response.get("content", {}):
                        response["content"] = {
                            "application/problem+json": response["content"]["application/json"]
                        }
                        response["description"] = TITLES.get(int(code), response.get("description", ""))
                    if int(code) == 429:
                        response["headers"] = {
                            "Retry-After": {"schema": {"type": "integer"}, "required": True}
                        }
                if method in IDEMPOTENT_METHODS:
                    operation.setdefault("parameters", []).append(
                        {
                            "name": IDEMPOTENCY_HEADER,
                            "in": "header",
                            "required": False,
                            "schema": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": 255,
                                "pattern": "^[ -~]+$",
                            },
                            "description": "A retried call with the same key returns the first result; "
                            "the same key with another body is a 422.",
                        }
                    )
        return schema


api = _Api(
    title="twinadmin API",
    version="1",
    description="Registry sync, twin deletions, erasure requests and their receipts, webhooks.",
    urls_namespace="api-v1",
    docs=_StaffSwagger(),
    parser=_Parser(),
)
install_handlers(api)


def _twin_out(twin: Twin, creator_id: str) -> dict[str, Any]:
    return {
        "twin_id": twin.twin_id,
        "namespace": codec.twin_namespace(creator_id, twin.twin_id),
        "name": twin.name,
        "status": twin.status,
        "naming": twin.naming,
        "vector_count": twin.vector_count,
        "count_observed_at": twin.count_observed_at,
    }


def _creator_out(creator: Creator) -> dict[str, Any]:
    twins = creator.twins.order_by("twin_id")
    return {
        "creator_id": creator.creator_id,
        "display_name": creator.display_name,
        "status": creator.status,
        "twins": [_twin_out(t, creator.creator_id) for t in twins],
    }


def _creator(creator_id: str) -> Creator:
    if not codec.is_valid_id(creator_id):
        raise Problem(404, f"No creator {creator_id!r}.")
    return get_object_or_404(Creator, creator_id=creator_id)


def _twin_known(creator: Creator, twin_id: str) -> None:
    if not codec.is_valid_id(twin_id) or not creator.twins.filter(twin_id=twin_id).exists():
        raise Problem(404, f"Creator {creator.creator_id!r} has no twin {twin_id!r}.")


def _creator_new(creator_id: str, display_name: str, actor: str) -> Creator | None:
    """creator_create, or None when the creator exists. The unique index decides: a create that
    lost a race with another one (the look-up said absent) is None too, not a refusal. An id
    the codec refuses is creator_create's to refuse, before any query."""

    def exists() -> bool:
        return codec.is_valid_id(creator_id) and Creator.objects.filter(creator_id=creator_id).exists()

    if exists():
        return None
    try:
        return creator_create(creator_id=creator_id, display_name=display_name, actor=actor)
    except RegistryError:
        if exists():
            return None
        raise


@api.post(
    "/creators",
    response=_responses(201, schemas.CreatorOut, 409, 422),
    auth=ApiToken("registry:write"),
    summary="Register a creator with its twins",
    operation_id="creator_create",
    tags=["registry"],
)
@idempotent
def creator_create_endpoint(request: HttpRequest, payload: schemas.CreatorIn) -> Status[Any]:
    """Register a creator and, in the same transaction, its twins (the pages' naming policies;
    a twin id the product already chose is used when valid). A creator that exists is a 409:
    `PUT /creators/{id}` creates or updates."""
    actor = _client(request).actor
    with transaction.atomic():
        creator = _creator_new(payload.creator_id, payload.display_name, actor)
        if creator is None:
            raise Problem(
                409,
                f"Creator {payload.creator_id!r} already exists; PUT /creators/{{id}} creates or updates.",
                kind="exists",
            )
        for twin in payload.twins:
            twin_create(
                creator=creator, name=twin.name, naming=twin.naming, twin_id=twin.twin_id, actor=actor
            )
    return Status(201, _creator_out(creator))


@api.post(
    "/creators/{creator_id}/twins",
    response=_responses(201, schemas.TwinOut, 404, 422),
    auth=ApiToken("registry:write"),
    summary="Add a twin",
    operation_id="twin_create",
    tags=["registry"],
)
@idempotent
def twin_create_endpoint(request: HttpRequest, creator_id: str, payload: schemas.TwinIn) -> Status[Any]:
    """Add a twin to a creator."""
    creator = _creator(creator_id)
    twin = twin_create(
        creator=creator,
        name=payload.name,
        naming=payload.naming,
        twin_id=payload.twin_id,
        actor=_client(request).actor,
    )
    return Status(201, _twin_out(twin, creator.creator_id))


@api.get(
    "/creators/{creator_id}",
    response=_responses(200, schemas.CreatorOut, 404),
    auth=ApiToken("registry:read"),
    summary="A creator and its twins",
    operation_id="creator_get",
    tags=["registry"],
)
def creator_get_endpoint(request: HttpRequest, creator_id: str) -> Status[Any]:
    """A creator and its twins, with the vector counts last observed."""
    return Status(200, _creator_out(_creator(creator_id)))


@api.get(
    "/creators/{creator_id}/twins",
    response=_responses(200, list[schemas.TwinOut], 404),
    auth=ApiToken("registry:read"),
    summary="A creator's twins",
    operation_id="twin_list",
    tags=["registry"],
)
def twin_list_endpoint(request: HttpRequest, creator_id: str) -> Status[Any]:
    """A creator's twins, with the vector counts last observed."""
    creator = _creator(creator_id)
    return Status(200, [_twin_out(t, creator.creator_id) for t in creator.twins.order_by("twin_id")])


@api.patch(
    "/creators/{creator_id}",
    response=_responses(200, schemas.CreatorOut, 404),
    auth=ApiToken("registry:write"),
    summary="Change a creator's display name",
    operation_id="creator_update",
    tags=["registry"],
)
@idempotent
def creator_update_endpoint(
    request: HttpRequest, creator_id: str, payload: schemas.CreatorPatch
) -> Status[Any]:
    """Change a creator's display name (refused once its erasure is approved). The same name
    changes nothing and is not audited."""
    creator = _creator(creator_id)
    creator = creator_update(
        creator_id=creator.creator_id, display_name=payload.display_name, actor=_client(request).actor
    )
    return Status(200, _creator_out(creator))


@api.patch(
    "/creators/{creator_id}/twins/{twin_id}",
    response=_responses(200, schemas.TwinOut, 404),
    auth=ApiToken("registry:write"),
    summary="Rename a twin",
    operation_id="twin_update",
    tags=["registry"],
)
@idempotent
def twin_update_endpoint(
    request: HttpRequest, creator_id: str, twin_id: str, payload: schemas.TwinPatch
) -> Status[Any]:
    """Change a twin's name; its id and namespace stay (the index has no rename). Refused for a
    twin being deleted or deleted; the same name changes nothing and is not audited."""
    creator = _creator(creator_id)
    _twin_known(creator, twin_id)
    twin = twin_update(
        creator_id=creator.creator_id, twin_id=twin_id, name=payload.name, actor=_client(request).actor
    )
    return Status(200, _twin_out(twin, creator.creator_id))


@api.put(
    "/creators/{creator_id}",
    response=_responses((200, 201), schemas.CreatorOut),
    auth=ApiToken("registry:write"),
    summary="Create or update a creator and ensure its twins",
    operation_id="creator_put",
    tags=["registry"],
)
@idempotent
def creator_put_endpoint(request: HttpRequest, creator_id: str, payload: schemas.CreatorPut) -> Status[Any]:
    """A sync: the creator is created (201) or given this display name (200), and each twin
    listed is created with its id or given its name, all in one transaction. Twins not listed
    are left alone (deleting one is `POST .../deletion`). Sending it again changes nothing."""
    actor = _client(request).actor
    with transaction.atomic():
        creator = _creator_new(creator_id, payload.display_name, actor)
        created = creator is not None
        if creator is None:
            creator = creator_update(creator_id=creator_id, display_name=payload.display_name, actor=actor)
        existing = set(creator.twins.values_list("twin_id", flat=True))
        for twin in payload.twins:
            if twin.twin_id in existing:
                twin_update(creator_id=creator_id, twin_id=twin.twin_id, name=twin.name, actor=actor)
            else:
                twin_create(creator=creator, name=twin.name, twin_id=twin.twin_id, actor=actor)
    return Status(201 if created else 200, _creator_out(creator))


def _deletion_out(deletion: TwinDeletion) -> dict[str, Any]:
    return {
        "deletion_id": deletion.pk,
        "creator_id": deletion.creator_id,
        "twin_id": deletion.twin_id,
        "namespace": deletion.namespace,
        "status": deletion.status,
        "vectors_before": deletion.count_before,
        "error": deletion.error,
    }


@api.post(
    "/creators/{creator_id}/twins/{twin_id}/deletion",
    response=_responses(202, schemas.TwinDeletionOut, 404, 422),
    auth=ApiToken("twins:delete"),
    summary="Request a twin's deletion",
    operation_id="twin_deletion",
    tags=["twins"],
)
@idempotent
def twin_deletion_endpoint(
    request: HttpRequest, creator_id: str, twin_id: str, payload: schemas.TwinDeletionIn
) -> Status[Any]:
    """Request the deletion of one twin's namespace (queued; `twin.deleted` is sent once verified)."""
    creator = _creator(creator_id)
    _twin_known(creator, twin_id)
    deletion = twin_deletion_request(
        creator_id=creator_id,
        twin_id=twin_id,
        reason=payload.reason,
        confirm=twin_id,
        actor=_client(request).actor,
    )
    return Status(202, _deletion_out(deletion))


@api.get(
    "/twin-deletions/{deletion_id}",
    response=_responses(200, schemas.TwinDeletionOut, 404),
    auth=ApiToken("twins:delete"),
    summary="A twin deletion",
    operation_id="twin_deletion_get",
    tags=["twins"],
)
def twin_deletion_get_endpoint(request: HttpRequest, deletion_id: int) -> Status[Any]:
    """A twin deletion's state."""
    return Status(200, _deletion_out(_get(TwinDeletion, deletion_id)))


def _get(model: Any, pk: int) -> Any:
    if not (0 < pk < 2**63):
        raise Problem(404, "No such resource.")
    return get_object_or_404(model, pk=pk)


def _erasure_out(erasure: ErasureRequest) -> dict[str, Any]:
    approved = erasure.approved_scope or {}
    scope = None
    if erasure.approved_scope_digest:
        scope = {
            "namespaces": [n.get("name", "") for n in approved.get("namespaces", []) if isinstance(n, dict)],
            "total_vectors": approved.get("total_vectors"),
            "digest": erasure.approved_scope_digest,
            "read_at": approved.get("read_at"),
        }
    return {
        "request_id": erasure.pk,
        "creator_id": erasure.creator_id,
        "dsr_id": erasure.ticket_reference,
        "reason": erasure.reason,
        "status": erasure.status,
        "requested_at": erasure.requested_at,
        "approved_at": erasure.approved_at,
        "verified_at": erasure.verified_at,
        "attempts": erasure.attempts,
        "last_error": erasure.last_error,
        "scope": scope,
        "receipt_available": erasure.status == ErasureRequest.Status.COMPLETED,
    }


@api.post(
    "/erasure-requests",
    response=_responses(201, schemas.ErasureOut, 404, 422),
    auth=ApiToken("erasure:request"),
    summary="File an erasure request",
    operation_id="erasure_file",
    tags=["erasure"],
)
@idempotent
def erasure_file_endpoint(request: HttpRequest, payload: schemas.ErasureIn) -> Status[Any]:
    """File a creator's erasure request with the product's reference (DSR id). It awaits an
    approver on the pages: no token can approve one."""
    _creator(payload.creator_id)
    erasure = erasure_request_file(
        creator_id=payload.creator_id,
        reason=payload.reason,
        ticket_reference=payload.dsr_id,
        confirm=payload.creator_id,
        actor=_client(request).actor,
    )
    return Status(201, _erasure_out(erasure))


def _audited_read(request: HttpRequest, erasure: ErasureRequest, action: str) -> None:
    # A correlation id of its own: the request's would put these reads into its receipt.
    audit_record(
        actor=_client(request).actor,
        action=action,
        target_type="request",
        target_id=str(erasure.pk),
        creator_id=erasure.creator_id,
        outcome="info",
        details={"request": erasure.pk, "status": erasure.status},
        correlation_id=uuid.uuid4(),
    )


@api.get(
    "/erasure-requests/{request_id}",
    response=_responses(200, schemas.ErasureOut, 404),
    auth=ApiToken("erasure:read"),
    summary="An erasure request's status",
    operation_id="erasure_get",
    tags=["erasure"],
)
def erasure_get_endpoint(request: HttpRequest, request_id: int) -> Status[Any]:
    """A request's status and the scope its approver approved."""
    erasure = _get(ErasureRequest, request_id)
    _audited_read(request, erasure, "api.erasure.read")
    return Status(200, _erasure_out(erasure))


@api.get(
    "/erasure-requests/{request_id}/receipt",
    response=_responses(200, dict[str, Any], 404, 409, 503),
    auth=ApiToken("erasure:read"),
    summary="An erasure request's signed receipt",
    operation_id="erasure_receipt",
    tags=["erasure"],
)
def erasure_receipt_endpoint(request: HttpRequest, request_id: int) -> Status[Any]:
    """The signed receipt of a completed request (`manage.py receipt_verify` checks one)."""
    erasure = _get(ErasureRequest, request_id)
    if erasure.status != ErasureRequest.Status.COMPLETED:
        raise Problem(
            409, f"Request #{erasure.pk} is {erasure.status}; a receipt exists once it is completed."
        )
    _audited_read(request, erasure, "api.erasure.receipt")
    try:
        return Status(200, erasure_receipt_signed(erasure))
    except (AuditKeyError, CheckpointRefused) as exc:
        raise Problem(503, f"The receipt cannot be signed now: {exc}") from None


@api.post(
    "/webhooks",
    response=_responses(201, schemas.WebhookOut, 422),
    auth=ApiToken("webhooks:write"),
    summary="Register a webhook endpoint",
    operation_id="webhook_create",
    tags=["webhooks"],
)
@idempotent
def webhook_create_endpoint(request: HttpRequest, payload: schemas.WebhookIn) -> Status[Any]:
    """Register an endpoint for events. The answer holds its signing secret, once."""
    endpoint = webhook_endpoint_create(client=_client(request), url=payload.url, events=list(payload.events))
    return Status(
        201,
        {
            "webhook_id": endpoint.pk,
            "url": endpoint.url,
            "events": endpoint.events,
            "created_at": endpoint.created_at,
            "secret": endpoint.secret,
        },
    )


@api.delete(
    "/webhooks/{webhook_id}",
    response=_responses(204, None, 404),
    auth=ApiToken("webhooks:write"),
    summary="Remove a webhook endpoint",
    operation_id="webhook_delete",
    tags=["webhooks"],
)
def webhook_delete_endpoint(request: HttpRequest, webhook_id: int) -> Status[None]:
    """Stop deliveries to an endpoint of this client."""
    if not (0 < webhook_id < 2**63):
        raise Problem(404, "No such webhook endpoint.")
    try:
        webhook_endpoint_disable(client=_client(request), endpoint_id=webhook_id)
    except ValueError as exc:
        raise Problem(404, str(exc)) from None
    return Status(204, None)
