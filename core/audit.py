"""The one helper that writes audit rows. Every view of a child's data calls it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from django.http import HttpRequest

from core.models import AuditEvent
from pedslink.proxy import client_address

Action = AuditEvent.Action
Outcome = AuditEvent.Outcome


def client_ip(request: HttpRequest) -> str | None:
    # The peer, or what a proxy in TRUSTED_PROXIES forwards (never a header from anyone else).
    return client_address(request)


@dataclass(frozen=True)
class AuditContext:
    """Where a change came from, for its audit row: what a service needs of the request
    (services take this and the actor, never the request itself)."""

    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest | None) -> AuditContext:
        if request is None:
            return cls()
        return cls(
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
            request_id=getattr(request, "request_id", ""),
        )


SYSTEM = AuditContext()  # a change made by the system itself (sweeps, tasks)


def _patient_model() -> type[models.Model]:
    # The child an audit row names is whatever its `patient` key points to: the base layer
    # learns the model from the field instead of importing the app that defines it.
    return AuditEvent._meta.get_field("patient").related_model  # type: ignore[return-value]


def audit_record(
    *,
    action: str,
    request: HttpRequest | None = None,
    context: AuditContext | None = None,
    user: Any = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    patient: models.Model | None = None,
    outcome: str = Outcome.SUCCESS,
    reason: str = "",
    portal_token_id: str = "",
    username: str = "",
) -> AuditEvent:
    """Append one audit row: who, what, the child concerned, outcome and from where (the
    request's, or the `context` a service was given)."""
    if user is None and request is not None:
        user = getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    if obj is not None:
        object_type = object_type or obj._meta.model_name or ""
        object_id = object_id or str(obj.pk)
        if patient is None and isinstance(obj, _patient_model()):
            patient = obj
    if context is None:
        context = AuditContext.from_request(request)
    return AuditEvent.objects.create(
        user=user,
        username=(user.username if user else username)[:150],
        role=user.role if user else "",
        hospital_id=user.hospital_id if user else None,
        portal_token_id=portal_token_id,
        action=action,
        object_type=object_type[:50],
        object_id=str(object_id)[:128],
        patient=patient,
        outcome=outcome,
        reason=reason[:300],
        ip=context.ip,
        user_agent=context.user_agent,
        request_id=context.request_id,
    )


def audit_denied(
    request: HttpRequest, *, object_type: str, object_id: str, reason: str = ""
) -> AuditEvent:
    """Record a refused access (the caller then answers 404)."""
    return audit_record(
        request=request,
        action=Action.DENIED,
        object_type=object_type,
        object_id=object_id,
        outcome=Outcome.FAILURE,
        reason=reason,
    )
