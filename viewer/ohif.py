"""OHIF Viewer 3 at /ohif/, talking to PedsLink's own DICOMweb with the user's session.

The prebuilt app lives in static/ohif/ (`make ohif`); its files are served as static files
under /static/ohif/, and every /ohif/... route answers its index.html (a single-page app).
The configuration is OHIF's shipped app-config.js with PedsLink's data source appended.
OHIF has its own Content-Security-Policy (pedslink/headers.py); its index's two inline
scripts run with the request's nonce, added here.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from pedslink.proxy import absolute_url


def ohif_root():  # noqa: ANN201
    return settings.BASE_DIR / "static" / "ohif"


def data_source(request: HttpRequest) -> dict:
    root = absolute_url("/dicomweb", request)
    return {
        "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
        "sourceName": "pedslink",
        "configuration": {
            "friendlyName": "PedsLink",
            "name": "pedslink",
            "qidoRoot": root,
            "wadoRoot": root,
            "wadoUriRoot": root,
            "qidoSupportsIncludeField": True,
            "imageRendering": "wadors",
            "thumbnailRendering": "wadors",
            "enableStudyLazyLoad": True,
            "supportsFuzzyMatching": False,
            "supportsWildcard": True,
            "omitQuotationForMultipartRequest": True,
            "bulkDataURI": {"enabled": True, "relativeResolution": "studies"},
        },
    }


@require_GET
@login_required
def app_config(request: HttpRequest) -> HttpResponse:
    shipped = ohif_root() / "app-config.js"
    if not shipped.exists():
        raise Http404("OHIF is not installed: run `make ohif`")
    extra = (
        "\nwindow.config.routerBasename = '/ohif';"
        "\nwindow.config.showStudyList = true;"
        f"\nwindow.config.dataSources = [{json.dumps(data_source(request))}];"
        "\nwindow.config.defaultDataSourceName = 'pedslink';\n"
    )
    body = shipped.read_text(encoding="utf-8") + extra
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@login_required
def app(request: HttpRequest, path: str = "") -> HttpResponse:
    index = ohif_root() / "index.html"
    if not index.exists():
        raise Http404("OHIF is not installed: run `make ohif`")
    nonce = f'<script nonce="{request.csp_nonce}">'.encode()  # type: ignore[attr-defined]
    page = index.read_bytes().replace(b"<script>", nonce)
    response = HttpResponse(page, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response
