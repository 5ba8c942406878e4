from django.urls import path

from viewer import dicomweb, views

app_name = "viewer"

S = "dicomweb/studies/<str:study>"
SE = S + "/series/<str:series>"
I = SE + "/instances/<str:instance>"  # noqa: E741

# Imaging ingest and DICOMweb (STOW/QIDO/WADO); rendered frames and thumbnails live in
# viewer/render_views.py with their own routes.
urlpatterns = [
    path("patients/<int:pk>/imaging/upload/", views.upload_page, name="upload"),
    path("patients/<int:pk>/imaging/files/", views.upload_files, name="upload-files"),
    path("patients/<int:pk>/imaging/have/", views.upload_have, name="upload-have"),
    path("patients/<int:pk>/imaging/photo/", views.upload_photo, name="upload-photo"),
    path("imaging/unmatched/", views.unmatched_list, name="unmatched"),
    path("imaging/unmatched/<int:pk>/assign/", views.unmatched_assign, name="unmatched-assign"),
    path("imaging/nodes/", views.node_list, name="nodes"),
    path("imaging/nodes/<int:pk>/deactivate/", views.node_deactivate, name="node-deactivate"),
    path("imaging/tokens/", views.token_list, name="tokens"),
    path("imaging/tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("dicomweb/studies", dicomweb.stow_or_qido_studies, name="dicomweb-studies"),
    path(S, dicomweb.stow_or_wado_study, name="dicomweb-study"),
    path(S + "/metadata", dicomweb.wado_metadata, name="dicomweb-study-metadata"),
    path(S + "/series", dicomweb.qido_series, name="dicomweb-study-series"),
    path(S + "/instances", dicomweb.qido_instances, name="dicomweb-study-instances"),
    path(SE, dicomweb.wado, name="dicomweb-series"),
    path(SE + "/metadata", dicomweb.wado_metadata, name="dicomweb-series-metadata"),
    path(SE + "/instances", dicomweb.qido_instances, name="dicomweb-series-instances"),
    path(I, dicomweb.wado, name="dicomweb-instance"),
    path(I + "/metadata", dicomweb.wado_metadata, name="dicomweb-instance-metadata"),
    path(I + "/frames/<str:frames>", dicomweb.wado_frames, name="dicomweb-frames"),
    path(I + "/bulk/<str:tag>", dicomweb.wado_bulk, name="dicomweb-bulk"),
    path("dicomweb/series", dicomweb.qido_series, name="dicomweb-all-series"),
    path("dicomweb/instances", dicomweb.qido_instances, name="dicomweb-all-instances"),
]
