"""Parent portal under /p/: short links that fit in a text message."""

from django.urls import path, re_path

from consult.portal import views as v

urlpatterns = [
    path("", v.portal_home, name="portal-home"),
    path("report/", v.portal_report, name="portal-report"),
    path("report/images/<int:n>/", v.portal_image, name="portal-image"),
    path("report/pdf/", v.portal_pdf, name="portal-pdf"),
    path("leave/", v.portal_leave, name="portal-leave"),
    path("language/<str:code>/", v.portal_language, name="portal-language"),
    path("staff/consultations/<int:pk>/share/", v.staff_share, name="portal-staff-share"),
    path("staff/shares/<int:share_id>/revoke/", v.staff_revoke, name="portal-staff-revoke"),
    re_path(r"^(?P<token>[A-Za-z0-9_-]{32})$", v.portal_open, name="portal-open"),
    re_path(r"^(?P<junk>.*)$", v.portal_malformed, name="portal-malformed"),
]
