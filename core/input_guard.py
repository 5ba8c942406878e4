"""Refuse a NUL character anywhere a request carries text to the database.

PostgreSQL text cannot hold NUL (0x00): such a value reaching any query (a search box, a list
filter, a form field, a URL part, the session cookie) failed the request with a 500. No
browser or DICOMweb client sends one, so the request is refused here, once, with a 400 and
the reason, before a session is loaded or a view runs. (JSON bodies are checked by the
API's serializers, DICOM headers by the ingest pipeline.)
"""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils import translation
from django.utils.deprecation import MiddlewareMixin
from django.utils.translation import gettext as _

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MACHINE_PREFIXES = ("/api/", "/dicomweb/", "/viewer/api/")


class NulRefusalMiddleware(MiddlewareMixin):
    """A 400 for a NUL in the path, the query string, a cookie or a posted form field."""

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        if not _carries_nul(request):
            return None
        with translation.override(translation.get_language_from_request(request)):
            reason = _("The request contains a NUL character, which is not allowed.")
        if request.path.startswith(MACHINE_PREFIXES):
            return JsonResponse({"detail": reason}, status=400)
        return HttpResponseBadRequest(reason, content_type="text/plain; charset=utf-8")


def _carries_nul(request: HttpRequest) -> bool:
    if "\0" in request.path or _any_nul(request.GET.lists()) or _any_nul(request.COOKIES.items()):
        return True
    if request.method == "POST" and request.content_type in FORM_TYPES:
        return _any_nul(request.POST.lists())
    return False


def _any_nul(pairs: Iterable[tuple[str, object]]) -> bool:
    for key, value in pairs:
        values = value if isinstance(value, list) else [value]
        if "\0" in key or any("\0" in str(v) for v in values):
            return True
    return False
