"""Logins, failed logins and logouts are audit rows, whatever path they came by."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from core.audit import Action, Outcome, audit_record


@receiver(user_logged_in)
def _logged_in(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    audit_record(request=request, user=user, action=Action.LOGIN, obj=user)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(request=request, user=user, action=Action.LOGOUT, obj=user)


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    audit_record(
        request=request,
        user=None,
        username=str(credentials.get("username", ""))[:150],
        action=Action.LOGIN_FAILED,
        object_type="user",
        outcome=Outcome.FAILURE,
    )
