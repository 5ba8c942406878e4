"""Django's ASGI handler with the DICOMweb middleware list, for integration requests.

A hospital system sends DICOMweb requests with a bearer token: no session, no CSRF token,
no messages, no login lockout. Through the full MIDDLEWARE each request still pays for
those (sessions and authentication are looked at, the sync middleware adds thread hops).
`DicomwebHandler` is Django's own `ASGIHandler`, the same URL routing, views, signals and
exception handling, loading the shorter `DICOMWEB_MIDDLEWARE` list declared in settings
instead of `MIDDLEWARE`. pedslink/asgi.py sends it the requests under /dicomweb/ that carry a
bearer header; everything else (a browser's session DICOMweb, OHIF, pages) goes through the
full stack.
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler


class DicomwebHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        # BaseHandler.load_middleware reads settings.MIDDLEWARE; it is pointed at the
        # declared list for the duration of the load (at start-up, before any request).
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.DICOMWEB_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


def bearer(scope: dict) -> bool:
    """An Authorization: Bearer header with a secret (viewer.integrations.auth.bearer_secret's
    test)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            return scheme.lower() == "bearer" and bool(secret.strip())
    return False
