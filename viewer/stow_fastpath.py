"""STOW-RS with a bearer token, in front of Django's middleware stack (wired in pedslink/asgi.py).

A hospital system sending one instance per request pays, through Django under ASGI, a thread
started per request and three hops between the event loop and it (the sync middleware, back
to the loop for the async ones, again for the view), besides the middleware itself. Here the
body is read as Django reads it (`ASGIHandler.read_body`, spooled to disk past
FILE_UPLOAD_MAX_MEMORY_SIZE), then one hop into a pooled thread runs, in order, what the
middleware would do for this request and the very same view, `viewer.dicomweb.stow`: the
same authentication (`viewer.auth`), services, audit row and answer.

What the middleware does for a bearer STOW, done here the same way: forwarded headers
dropped unless from a trusted proxy (pedslink.proxy), SecurityMiddleware, pedslink.headers
(Content-Security-Policy, Permissions-Policy), LocaleMiddleware, CommonMiddleware and
XFrameOptionsMiddleware through their own hooks, the request id (consult.middleware),
Django's request_started / request_finished signals (the database connection is handed back
at the end) and its exception handling. Sessions, CSRF,
messages and WhiteNoise have nothing to do for it: a bearer header wins over the session and
needs no CSRF token. Anything else goes to Django unchanged: no bearer header (session STOW
keeps its CSRF check), any other method or URL, a query string, a Host Django would refuse,
an http request that SECURE_SSL_REDIRECT sends to https, a script prefix, or a MIDDLEWARE
setting other than the one this mirrors. STOW_FAST_PATH=0 turns it off.
"""

from __future__ import annotations

import re
import time
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from viewer.fastpath import ASGIApp, Receive, Scope, Send, _host_allowed, needs_redirect

PATH = re.compile(r"^/dicomweb/studies(?:/([^/]+))?$")  # viewer.urls, <str:study>
# settings.MIDDLEWARE as this module mirrors it; the fast path is off for any other list.
MIDDLEWARE = [
    "pedslink.proxy.ForwardedHeadersMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "pedslink.headers.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "consult.middleware.RequestIdMiddleware",
    "consult.input_guard.NulRefusalMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "consult.middleware.SessionIdleMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # acts only on a login that axes flagged: not here
]
# The hooks that act on a bearer STOW, in settings order (responses go back in reverse).
HOOKED = [
    "django.middleware.security.SecurityMiddleware",
    "pedslink.headers.SecurityHeadersMiddleware",
    "consult.input_guard.NulRefusalMiddleware",  # a NUL in the study UID of the path
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]


def enabled() -> bool:
    return getattr(settings, "STOW_FAST_PATH", True) and list(settings.MIDDLEWARE) == MIDDLEWARE


def bearer(scope: Scope) -> bool:
    """An Authorization: Bearer header with a secret (viewer.auth.bearer_secret's test)."""
    for name, value in scope["headers"]:
        if name.lower() == b"authorization":
            scheme, _, secret = value.decode("latin-1").partition(" ")
            return scheme.lower() == "bearer" and bool(secret.strip())
    return False


class BearerStow:
    """ASGI middleware: bearer-token STOW-RS through the view without the middleware stack,
    else the wrapped app. `django` is the Django ASGI handler (it reads the body, builds the
    request and sends the response as it does for itself)."""

    def __init__(self, app: ASGIApp, django: ASGIHandler) -> None:
        self.app = app
        self.django = django
        self._on: bool | None = None
        self._hooks: list[Any] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and not scope.get("root_path")
            and not scope.get("query_string")
            and (m := PATH.match(scope["path"]))
            and bearer(scope)
            and self._is_on()
            and self._django_would_serve(scope)
        ):
            started = time.perf_counter()
            try:
                body = await self.django.read_body(receive)
            except RequestAborted:
                return
            try:
                response = await sync_to_async(self._serve, thread_sensitive=False)(
                    scope, body, m[1] or ""
                )
            finally:
                body.close()
            spent = (time.perf_counter() - started) * 1000
            response["Server-Timing"] = f'fastpath;dur={spent:.2f};desc="stow"'
            await self.django.send_response(response, send)
            return
        await self.app(scope, receive, send)

    def _is_on(self) -> bool:
        if self._on is None:
            self._on = enabled()
        return self._on

    @staticmethod
    def _django_would_serve(scope: Scope) -> bool:
        from viewer.fastpath import request_headers

        headers = request_headers(scope)
        host = headers.get("host", "")
        if settings.USE_X_FORWARDED_HOST and "x-forwarded-host" in headers:
            host = headers["x-forwarded-host"]
        return _host_allowed(host) and not needs_redirect(scope, headers)

    def _serve(self, scope: Scope, body: Any, study: str) -> HttpResponse:
        """Everything Django does for this request, in one thread: the response comes back
        closed (request_finished sent, the database connection handed back), its bytes in."""
        signals.request_started.send(sender=ASGIHandler, scope=scope)
        request, response = self.django.create_request(scope, body)
        if request is None:
            response.close()
            return response
        try:
            response = self._respond(request, study)
        except Exception as exc:  # noqa: BLE001 - answered as Django answers it
            response = response_for_exception(request, exc)
        response._resource_closers.append(request.close)
        response.close()
        return response

    def _respond(self, request: HttpRequest, study: str) -> HttpResponse:
        from django.contrib.auth.models import AnonymousUser

        from consult.middleware import request_id
        from pedslink.proxy import strip_untrusted
        from viewer.dicomweb import stow

        hooks = self._middleware()
        strip_untrusted(request.META)  # pedslink.proxy.ForwardedHeadersMiddleware's work
        request.request_id = request_id(request.META.get("HTTP_X_REQUEST_ID", ""))  # type: ignore[attr-defined]
        request.user = AnonymousUser()  # the view sets the token's account
        response = None
        for hook in hooks:
            if hasattr(hook, "process_request"):
                try:
                    response = hook.process_request(request)
                except Exception as exc:  # noqa: BLE001 - as the middleware chain answers
                    response = response_for_exception(request, exc)
                if response is not None:
                    break
        if response is None:
            response = stow(request, study=study)
        for hook in reversed(hooks):
            if hasattr(hook, "process_response"):
                response = hook.process_response(request, response)
        response["X-Request-ID"] = request.request_id  # type: ignore[attr-defined]
        return response

    def _middleware(self) -> list[Any]:
        if self._hooks is None:
            self._hooks = [import_string(path)(_never) for path in HOOKED]
        return self._hooks


def _never(request: HttpRequest) -> HttpResponse:
    raise AssertionError("the fast path calls the middleware's hooks, not the chain")
