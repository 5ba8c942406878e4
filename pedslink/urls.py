from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import health

# Swagger UI comes from drf-spectacular's CDN (SWAGGER_UI_DIST) and styles itself inline; its
# start script is a separate same-origin file (the split view), so no inline script runs.
SWAGGER_CDN = "https://cdn.jsdelivr.net"
api_docs = csp_update(
    {
        "script-src": [SWAGGER_CDN],
        "style-src": [SWAGGER_CDN, UNSAFE_INLINE],
        "img-src": [SWAGGER_CDN, "data:"],
    }
)(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    # Django admin's own login would skip the second factor: it sends people to ours.
    path("django-admin/login/", RedirectView.as_view(pattern_name="login", query_string=True)),
    path("django-admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", api_docs, name="api-docs"),
    path("api/referrals/", include("referrals.api_urls")),
    path("api/", include("consult.api_urls")),
    path("referrals/", include("referrals.urls")),
    path("p/", include("consult.portal.urls")),
    path("", include("viewer.urls")),
    path("", include("consult.urls")),
]
