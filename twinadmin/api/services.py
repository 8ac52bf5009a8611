"""Writes of the API app: service tokens (create, revoke, authenticate), the per-client rate
limit, and webhook endpoints. The API's endpoints call the registry's and erasure's own services
for everything else."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
import socket
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from twinadmin.api.models import EVENTS, SCOPE_NAMES, ApiClient, RateWindow, WebhookEndpoint
from twinadmin.audit.services import audit_record

TOKEN_PREFIX = "twa_"
_NAME_RE = re.compile(r"\A[a-z0-9][a-z0-9._-]{0,99}\Z")
# last_used_at is written at most this often per client: not one more write on every call.
LAST_USED_RESOLUTION_SECONDS = 60


class ApiInputError(ValueError):
    """Bad input for a client or webhook: a clear message, nothing written."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def api_client_create(*, name: str, scopes: list[str], actor: Any) -> tuple[ApiClient, str]:
    """A new client and its token, which is returned here once and never stored."""
    name = (name or "").strip()
    if not _NAME_RE.match(name):
        raise ApiInputError(
            f"Invalid client name {name!r}: lowercase letters, digits, '.', '_' and '-', up to 100."
        )
    unknown = sorted(set(scopes) - set(SCOPE_NAMES))
    if unknown or not scopes:
        raise ApiInputError(
            f"Scopes must be some of {', '.join(SCOPE_NAMES)}; got {', '.join(unknown) or 'none'}."
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            client = ApiClient.objects.create(
                name=name,
                token_prefix=token[:12],
                token_sha256=token_digest(token),
                scopes=sorted(set(scopes)),
                created_by_name=_actor_label(actor),
            )
            client_audit(
                client, actor, "api.client.create", {"scopes": client.scopes, "prefix": client.token_prefix}
            )
    except IntegrityError:
        raise ApiInputError(f"An API client named {name!r} exists already.") from None
    return client, token


def api_client_revoke(*, name: str, actor: Any) -> ApiClient:
    """Revoke a client's token (idempotent: revoking again changes nothing and is not audited)."""
    with transaction.atomic():
        client = ApiClient.objects.select_for_update().filter(name=name).first()
        if client is None:
            raise ApiInputError(f"No API client named {name!r}.")
        if client.revoked_at is None:
            client.revoked_at = timezone.now()
            client.save(update_fields=["revoked_at"])
            client_audit(client, actor, "api.client.revoke", {"prefix": client.token_prefix})
    return client


def _actor_label(actor: Any) -> str:
    return actor if isinstance(actor, str) else actor.get_username()


def client_audit(
    client: ApiClient, actor: Any, action: str, details: dict[str, Any], *, outcome: str = "success"
) -> None:
    """An audit entry about a client (its token, its webhooks, a call it was refused)."""
    audit_record(
        actor=actor,
        action=action,
        target_type="account",
        target_id=client.actor,
        outcome=outcome,
        details=details,
    )


def api_client_authenticate(token: str) -> ApiClient | None:
    """The active client holding this token, or None. Marks it used (at most once a minute)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    client = ApiClient.objects.filter(token_sha256=token_digest(token), revoked_at__isnull=True).first()
    if client is None:
        return None
    now = timezone.now()
    if (
        client.last_used_at is None
        or (now - client.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS
    ):
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
    return client


def rate_limit_take(client: ApiClient) -> float | None:
    """Count one call against the client's current window: None when it is allowed, else the
    seconds until the window ends (Retry-After). A fixed window per API_RATE_LIMIT_SECONDS,
    counted in the database so that every web host shares it."""
    limit, period = settings.API_RATE_LIMIT_CALLS, settings.API_RATE_LIMIT_SECONDS
    now = time.time()
    start = int(now // period * period)
    updated = RateWindow.objects.filter(client=client, window_start=start).update(calls=F("calls") + 1)
    if not updated:
        try:
            with transaction.atomic():
                RateWindow.objects.create(client=client, window_start=start, calls=1)
        except IntegrityError:  # another host opened the window first
            RateWindow.objects.filter(client=client, window_start=start).update(calls=F("calls") + 1)
        # Earlier windows are of no more use.
        RateWindow.objects.filter(client=client, window_start__lt=start).delete()
    calls = (
        RateWindow.objects.filter(client=client, window_start=start).values_list("calls", flat=True).first()
    )
    if calls is not None and calls > limit:
        return max(start + period - now, 1.0)
    return None


def webhook_url_check(url: str) -> str:
    """An http(s) URL whose host does not resolve to a private, loopback, link-local or reserved
    address (a webhook must not become a way into the network twinadmin runs in), unless
    API_WEBHOOK_ALLOW_PRIVATE says so (tests and one-machine setups)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when it is not a port number
    except ValueError:
        raise ApiInputError("A webhook URL must be a valid http:// or https:// URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiInputError("A webhook URL must be http:// or https:// with a host.")
    if settings.API_WEBHOOK_ALLOW_PRIVATE:
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        raise ApiInputError(f"The webhook host {parts.hostname!r} does not resolve.") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise ApiInputError(
                f"The webhook host {parts.hostname!r} resolves to a non-public address ({address})."
            )
    return url


def webhook_endpoint_create(*, client: ApiClient, url: str, events: list[str]) -> WebhookEndpoint:
    unknown = sorted(set(events) - set(EVENTS))
    if unknown or not events:
        raise ApiInputError(
            f"Events must be some of {', '.join(EVENTS)}; got {', '.join(unknown) or 'none'}."
        )
    endpoint = WebhookEndpoint(
        client=client,
        url=webhook_url_check(url),
        events=sorted(set(events)),
        secret="whsec_" + secrets.token_urlsafe(32),
    )
    with transaction.atomic():
        endpoint.save()
        client_audit(
            client,
            client.actor,
            "api.webhook.create",
            {"endpoint": endpoint.pk, "url": endpoint.url, "events": endpoint.events},
        )
    return endpoint


def webhook_endpoint_disable(*, client: ApiClient, endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(client=client, pk=endpoint_id).first()
    if endpoint is None:
        raise ApiInputError(f"No webhook endpoint {endpoint_id} of this client.")
    if endpoint.disabled_at is None:
        with transaction.atomic():
            endpoint.disabled_at = timezone.now()
            endpoint.save(update_fields=["disabled_at"])
            details = {"endpoint": endpoint.pk, "url": endpoint.url}
            client_audit(client, client.actor, "api.webhook.disable", details)
    return endpoint
