"""Whom to believe about the client: forwarded headers count only from TRUSTED_PROXIES.

A reverse proxy says who the client was (X-Real-IP, X-Forwarded-For), which scheme and host
it was asked for (X-Forwarded-Proto, X-Forwarded-Host). Any client can send the same headers,
so they are believed only when the peer (REMOTE_ADDR) is one of TRUSTED_PROXIES (addresses or
networks, empty by default). `ForwardedHeadersMiddleware`, first in MIDDLEWARE, removes them
from every other request, so nothing downstream (SECURE_PROXY_SSL_HEADER, the audit trail,
the portal's per-address limit) can be fooled; it is first in DICOMWEB_MIDDLEWARE too.

Also here: `absolute_url`, the one place that makes links for outside the page (e-mails, text
messages, DICOMweb RetrieveURL and BulkDataURI): from SITE_URL, or from the host a trusted
proxy says it was asked for, never from the bare Host header (a proxy that drops the port
would make every link wrong).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port, validate_host

# request.META keys of the headers only a trusted proxy may set.
FORWARDED_META = (
    "HTTP_X_REAL_IP",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_FORWARDED",
)
# The same as lower-case header names (ASGI scope).
FORWARDED_HEADERS = tuple(m[5:].lower().replace("_", "-") for m in FORWARDED_META)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def trusted_proxies() -> tuple[Network, ...]:
    return _networks(tuple(settings.TRUSTED_PROXIES))


def is_trusted(address: str | None) -> bool:
    """Is `address` (an IP, maybe with a port or an IPv6 scope) one of TRUSTED_PROXIES?"""
    networks = trusted_proxies()
    if not networks or not address:
        return False
    try:
        ip = ipaddress.ip_address(address.strip().split("%")[0])
    except ValueError:
        return False
    return any(ip in network for network in networks)


def trusted_peer(request: HttpRequest) -> bool:
    return is_trusted(request.META.get("REMOTE_ADDR"))


def strip_untrusted(meta: dict) -> None:
    """Remove the forwarded headers unless the peer is a trusted proxy."""
    if not is_trusted(meta.get("REMOTE_ADDR")):
        for key in FORWARDED_META:
            meta.pop(key, None)


def _valid_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """The client's address for the audit trail and the portal's per-address limit: the peer,
    or, when the peer is a trusted proxy, the address it forwards (X-Real-IP, else the
    nearest address in X-Forwarded-For that is not itself a trusted proxy)."""
    peer = request.META.get("REMOTE_ADDR") or None
    if not is_trusted(peer):
        return peer
    real = _valid_ip(request.META.get("HTTP_X_REAL_IP", ""))
    if real:
        return real
    hops = [_valid_ip(hop) for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    for hop in reversed(hops):
        if hop is None:
            break  # a garbled entry: nothing left of it can be believed
        if not is_trusted(hop):
            return hop
    return peer


class ForwardedHeadersMiddleware:
    """First in MIDDLEWARE: forwarded headers from an untrusted peer never reach Django."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        strip_untrusted(request.META)
        return self.get_response(request)


def _forwarded_origin(request: HttpRequest) -> str | None:
    """scheme://host a trusted proxy says the client asked for, if it says so and the host
    is one of ALLOWED_HOSTS."""
    if not trusted_peer(request):
        return None
    host = request.META.get("HTTP_X_FORWARDED_HOST", "").split(",")[0].strip()
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    proto = request.META.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip().lower()
    scheme = proto if proto in ("http", "https") else request.scheme
    return f"{scheme}://{host}"


def absolute_url(path: str, request: HttpRequest | None = None) -> str:
    """The absolute URL of `path` (which starts with /) for use outside the page: SITE_URL's
    scheme, host and port, or those a trusted proxy forwarded with `request`."""
    origin = (_forwarded_origin(request) if request is not None else None) or settings.SITE_URL
    return origin.rstrip("/") + path
