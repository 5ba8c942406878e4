"""Bearer integration tokens for DICOMweb: a token acts through its hospital account.

`request_principal` serves plain Django views (session first, else a bearer token);
`BearerTokenAuthentication` serves DRF views.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.timezone import now
from django.views.decorators.csrf import csrf_exempt
from rest_framework import authentication, exceptions

from viewer.models import IntegrationToken
from viewer.services import token_digest

TOUCH_EVERY = dt.timedelta(minutes=5)


def bearer_secret(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def user_for_token(secret: str) -> Any:
    """The active account behind a token, or None for unknown or revoked tokens."""
    token = (
        IntegrationToken.objects.filter(token_hash=token_digest(secret), revoked_at=None)
        .select_related("account__hospital")
        .first()
    )
    if token is None or not token.account.is_active:
        return None
    if token.last_used_at is None or now() - token.last_used_at > TOUCH_EVERY:
        IntegrationToken.objects.filter(pk=token.pk).update(last_used_at=now())
    return token.account


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
