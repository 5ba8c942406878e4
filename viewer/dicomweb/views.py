"""The two URLs STOW-RS shares with QIDO-RS and WADO-RS, dispatched by method."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from viewer.dicomweb.qido import qido_studies
from viewer.dicomweb.stow import stow
from viewer.dicomweb.wado import wado


# GET and POST share the same URLs (PS3.18): dispatch by method before authenticating twice.
@csrf_exempt  # checked inside for session callers; bearer callers carry no cookie
def stow_or_qido_studies(request: HttpRequest) -> HttpResponse:
    return stow(request) if request.method == "POST" else qido_studies(request)


@csrf_exempt
def stow_or_wado_study(request: HttpRequest, study: str) -> HttpResponse:
    return stow(request, study=study) if request.method == "POST" else wado(request, study=study)
