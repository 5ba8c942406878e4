"""Bearer integration tokens for DICOMweb: a token acts through its hospital account.

`request_principal` serves plain Django views (session first, else a bearer token);
`BearerTokenAuthentication` serves DRF views.

A hospital system sends many requests a second with the same token, so each process keeps
what a token resolved to for TOKEN_CACHE_SECONDS (5 s), checked on every request against a
Redis counter (`token_generation`) that revoking a token or saving an account bumps: a
revocation or deactivation through the application refuses the very next request, anything
done behind its back (SQL, `.update()` elsewhere) within those seconds. Without Redis,
every request reads the database as before.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import threading
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.timezone import now
from django.views.decorators.csrf import csrf_exempt
from rest_framework import authentication, exceptions

from viewer.integrations.services import token_digest, token_generation
from viewer.models import IntegrationToken

TOUCH_EVERY = dt.timedelta(minutes=5)
TOKEN_CACHE_SECONDS = 5.0
TOKEN_CACHE_MAX = 1000

# digest -> (monotonic time looked up, generation, token row with its account)
_tokens: dict[str, tuple[float, bytes, IntegrationToken]] = {}
_tokens_lock = threading.Lock()


def bearer_secret(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def user_for_token(secret: str) -> Any:
    """The active account behind a token, or None for unknown or revoked tokens. Each caller
    gets its own copy of the account (requests run side by side in threads)."""
    digest = token_digest(secret)
    generation = token_generation()
    hit = _tokens.get(digest)
    if (
        hit is not None
        and generation is not None
        and hit[1] == generation
        and time.monotonic() - hit[0] < TOKEN_CACHE_SECONDS
        and not _touch_due(hit[2])
    ):
        return copy.copy(hit[2].account)
    token = (
        IntegrationToken.objects.filter(token_hash=digest, revoked_at=None)
        .select_related("account__hospital")
        .first()
    )
    if token is None or not token.account.is_active:
        _tokens.pop(digest, None)
        return None
    if _touch_due(token):
        token.last_used_at = now()
        IntegrationToken.objects.filter(pk=token.pk).update(last_used_at=token.last_used_at)
    if generation is not None:
        with _tokens_lock:
            if len(_tokens) >= TOKEN_CACHE_MAX:
                _tokens.clear()
            _tokens[digest] = (time.monotonic(), generation, token)
    return copy.copy(token.account)


def _touch_due(token: IntegrationToken) -> bool:
    return token.last_used_at is None or now() - token.last_used_at > TOUCH_EVERY


def request_principal(request: HttpRequest) -> tuple[Any, bool]:
    """(user, via_token). A bearer header wins over the session; a bad token is anonymous."""
    secret = bearer_secret(request)
    if secret is not None:
        user = user_for_token(secret)
        return (user or AnonymousUser()), user is not None
    return request.user, False


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[Any, str] | None:
        secret = bearer_secret(request._request)
        if secret is None:
            return None
        user = user_for_token(secret)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return user, secret

    def authenticate_header(self, request: Any) -> str:
        return 'Bearer realm="pedslink"'


def dicomweb_endpoint(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Session or bearer token; 401 otherwise. Session writes still need the CSRF token."""

    @csrf_exempt
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user, via_token = request_principal(request)
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            response = JsonResponse({"detail": "Authentication required."}, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="pedslink"'
            return response
        request.user = user
        if not via_token and request.method not in ("GET", "HEAD", "OPTIONS"):
            rejected = CsrfViewMiddleware(lambda r: HttpResponse()).process_view(
                request, None, (), {}
            )
            if rejected is not None:
                return rejected
        return view(request, *args, **kwargs)

    return wrapper
