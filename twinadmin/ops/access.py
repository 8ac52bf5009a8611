"""Who may read `/metrics`: a client address in METRICS_ALLOWED_IPS, or a request carrying
`Authorization: Bearer <METRICS_TOKEN>` when a token is set. Everyone else gets a 404, as if
there were no such page.

The address rule holds only for requests that reached us directly. Behind a reverse proxy on the
same host every request comes from 127.0.0.1, so a request that carries a forwarding header
(Forwarded, X-Forwarded-For, X-Real-IP) is not let in by its address: through a proxy, only the
token opens the page. (A client that adds such a header itself only shuts itself out.)"""

from __future__ import annotations

import hmac
import ipaddress
import logging

from django.conf import settings
from django.http import HttpRequest

log = logging.getLogger(__name__)

FORWARDING_HEADERS = ("HTTP_FORWARDED", "HTTP_X_FORWARDED_FOR", "HTTP_X_REAL_IP")


def _networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for entry in getattr(settings, "METRICS_ALLOWED_IPS", []):
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            log.warning("METRICS_ALLOWED_IPS: %r is not an address or network; ignored", entry)
    return networks


def _address_allowed(request: HttpRequest) -> bool:
    if any(request.META.get(header) for header in FORWARDING_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in _networks())


def _token_presented(request: HttpRequest) -> bool:
    token = str(getattr(settings, "METRICS_TOKEN", "") or "")
    if not token:
        return False
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


def metrics_allowed(request: HttpRequest) -> bool:
    return _token_presented(request) or _address_allowed(request)
