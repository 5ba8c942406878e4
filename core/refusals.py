"""How pages and the API answer an action the workflow table refuses (core/transitions.py).

The page is rendered with the reason and a way back, with 409 (the state) or 403 (the
person); the API answers `{"detail": reason}` with the same status. Nothing was written
by the refused service; the attempt itself is kept as one `denied` audit row.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.audit import Action, Outcome, audit_record
from core.transitions import TransitionNotAllowed


def refused_audit(
    request: HttpRequest, exc: TransitionNotAllowed, *, obj: models.Model, patient: Any = None
) -> None:
    audit_record(
        request=request,
        action=Action.DENIED,
        obj=obj,
        patient=patient,
        outcome=Outcome.FAILURE,
        reason=f"action refused: {exc.action or '?'}",
    )


def refused_page(
    request: HttpRequest,
    exc: TransitionNotAllowed,
    *,
    obj: models.Model,
    back: str,
    patient: Any = None,
) -> HttpResponse:
    """The refusal as a page: the reason, and a link back to the object's page."""
    refused_audit(request, exc, obj=obj, patient=patient)
    return render(
        request, "refused.html", {"reason": exc.reason, "back": back}, status=exc.http_status
    )


def refused_api(
    request: HttpRequest, exc: TransitionNotAllowed, *, obj: models.Model, patient: Any = None
) -> Any:
    from rest_framework.response import Response

    refused_audit(request, exc, obj=obj, patient=patient)
    return Response({"detail": exc.reason}, status=exc.http_status)
