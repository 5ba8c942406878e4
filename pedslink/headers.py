"""Content-Security-Policy and Permissions-Policy on every response (README, "Security headers").

django-csp's middleware writes the policy of CONTENT_SECURITY_POLICY, with the request's
nonce once a page has used it (`nonce="{{ CSP_NONCE }}"` on an inline script). OHIF, a
prebuilt app we did not write, needs more (WebAssembly decoders, inline styles): its pages and
files get OHIF_CONTENT_SECURITY_POLICY instead, chosen here by path. A worker runs under the
policy sent with its own script, so OHIF's worker scripts (Sec-Fetch-Dest: worker) get that
policy plus OHIF_WORKER_CSP_EXTRA, which OHIF's page never has.
Cached frames answered from a signed link before Django (viewer/rendering/links.py) add the same
headers through `response_headers`.
"""

from __future__ import annotations

from typing import Any

from csp.middleware import CSPMiddleware, PolicyParts
from csp.utils import build_policy, default_config
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_vary_headers


def is_ohif(path: str) -> bool:
    return path.startswith(("/ohif/", settings.STATIC_URL + "ohif/"))


def ohif_policy() -> dict[str, Any] | None:
    return default_config(settings.OHIF_CONTENT_SECURITY_POLICY["DIRECTIVES"])


def worker_extra(path: str, fetch_dest: str) -> dict[str, Any] | None:
    return settings.OHIF_WORKER_CSP_EXTRA if fetch_dest == "worker" and is_ohif(path) else None


def permissions_policy() -> str:
    """`camera=(), geolocation=(), fullscreen=(self)`: each feature with the origins allowed."""
    policy = settings.PERMISSIONS_POLICY
    return ", ".join(f"{feature}=({' '.join(origins)})" for feature, origins in policy.items())


def response_headers(path: str, fetch_dest: str = "") -> list[tuple[str, str]]:
    """The headers for a response that is not a page (a static file, a cached image);
    `fetch_dest` is the request's Sec-Fetch-Dest."""
    out = []
    ohif = is_ohif(path)
    policy = build_policy(
        config=ohif_policy() if ohif else None, update=worker_extra(path, fetch_dest)
    )
    if policy:
        out.append(("Content-Security-Policy", policy))
    if ohif:
        out.append(("Vary", "Sec-Fetch-Dest"))  # a script and a worker get different policies
    if settings.PERMISSIONS_POLICY:
        out.append(("Permissions-Policy", permissions_policy()))
    # What django.middleware.security.SecurityMiddleware adds to a non-redirect response.
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        out.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        out.append(("Referrer-Policy", settings.SECURE_REFERRER_POLICY))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        out.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    return out


class SecurityHeadersMiddleware(CSPMiddleware):
    """django-csp's middleware, OHIF's policy under its paths, and Permissions-Policy."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        path = request.path_info
        if not report_only and parts.config is None and is_ohif(path):
            parts.config = ohif_policy()
            parts.update = worker_extra(path, request.headers.get("Sec-Fetch-Dest", ""))
        return parts

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        response = super().process_response(request, response)
        if is_ohif(request.path_info):
            patch_vary_headers(response, ["Sec-Fetch-Dest"])
        if settings.PERMISSIONS_POLICY and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = permissions_policy()
        return response
