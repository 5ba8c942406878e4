from django.urls import path, re_path

from viewer import api, ohif, study_views, views
from viewer.dicomweb import qido, wado
from viewer.dicomweb.views import stow_or_qido_studies, stow_or_wado_study
from viewer.rendering import views as render_views

app_name = "viewer"

S = "dicomweb/studies/<str:study>"
SE = S + "/series/<str:series>"
I = SE + "/instances/<str:instance>"  # noqa: E741

# Imaging ingest and DICOMweb (STOW/QIDO/WADO); rendered frames and thumbnails live in
# viewer/rendering/views.py with their own routes.
imaging_urlpatterns = [
    path("patients/<int:pk>/imaging/upload/", views.upload_page, name="upload"),
    path("patients/<int:pk>/imaging/files/", views.upload_files, name="upload-files"),
    path("patients/<int:pk>/imaging/have/", views.upload_have, name="upload-have"),
    path("patients/<int:pk>/imaging/photo/", views.upload_photo, name="upload-photo"),
    path("imaging/unmatched/", views.unmatched_list, name="unmatched"),
    path("imaging/unmatched/<int:pk>/assign/", views.unmatched_assign, name="unmatched-assign"),
    path("imaging/conflicts/", views.conflict_list, name="conflicts"),
    path("imaging/conflicts/count.json", views.conflict_count, name="conflict-count"),
    path("imaging/conflicts/<int:pk>/", views.conflict_detail, name="conflict"),
    path("imaging/conflicts/<int:pk>/file/", views.conflict_file, name="conflict-file"),
    path("imaging/nodes/", views.node_list, name="nodes"),
    path("imaging/nodes/<int:pk>/deactivate/", views.node_deactivate, name="node-deactivate"),
    path("imaging/tokens/", views.token_list, name="tokens"),
    path("imaging/tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("dicomweb/studies", stow_or_qido_studies, name="dicomweb-studies"),
    path(S, stow_or_wado_study, name="dicomweb-study"),
    path(S + "/metadata", wado.wado_metadata, name="dicomweb-study-metadata"),
    path(S + "/series", qido.qido_series, name="dicomweb-study-series"),
    path(S + "/instances", qido.qido_instances, name="dicomweb-study-instances"),
    path(SE, wado.wado, name="dicomweb-series"),
    path(SE + "/metadata", wado.wado_metadata, name="dicomweb-series-metadata"),
    path(SE + "/instances", qido.qido_instances, name="dicomweb-series-instances"),
    path(I, wado.wado, name="dicomweb-instance"),
    path(I + "/metadata", wado.wado_metadata, name="dicomweb-instance-metadata"),
    path(I + "/frames/<str:frames>", wado.wado_frames, name="dicomweb-frames"),
    path(I + "/bulk/<str:tag>", wado.wado_bulk, name="dicomweb-bulk"),
    path("dicomweb/series", qido.qido_series, name="dicomweb-all-series"),
    path("dicomweb/instances", qido.qido_instances, name="dicomweb-all-instances"),
]

UID = "<str:study>"
SERIES = f"dicomweb/studies/{UID}/series/<str:series>"
INSTANCE = f"{SERIES}/instances/<str:instance>"

# Viewer pages and their JSON (viewer branch).
viewer_urlpatterns = [
    # Signed links to cached frames (viewer/rendering/links.py answers most in front of Django).
    re_path(
        r"^frames/(?P<grant>[A-Za-z0-9_\-:]{1,400})/(?P<key>[0-9a-f.]{1,50})/"
        r"(?P<frame>\d{1,6})\.(?P<form>jpg|u16)$",
        study_views.frame_link,
        name="viewer-frame-link",
    ),
    re_path(
        r"^frames/(?P<grant>[A-Za-z0-9_\-:]{1,400})/batch/(?P<parts>[0-9a-f._,]{1,1700})\."
        r"(?P<form>jpg|u16)$",
        study_views.frame_link_batch,
        name="viewer-frame-link-batch",
    ),
    path("viewer/studies/<str:study>/", study_views.study_page, name="viewer-study"),
    path(
        "viewer/studies/<str:study>/manifest.json",
        study_views.study_manifest_json,
        name="viewer-manifest",
    ),
    path(
        "viewer/studies/<str:study>/series/<str:series>/instances/<str:instance>"
        "/frames/<str:frame>/modality.png",
        study_views.frame_modality16,
        name="viewer-modality16",
    ),
    path(
        "viewer/studies/<str:study>/series/<str:series>/instances/<str:instance>"
        "/frames/<str:frame>/modality.u16",
        study_views.frame_modality_u16,
        name="viewer-modality-u16",
    ),
    path(
        "viewer/studies/<str:study>/series/<str:series>/frames",
        study_views.series_frames_batch,
        name="viewer-frames-batch",
    ),
    path(
        "viewer/api/studies/<str:study>/measurements/",
        api.StudyMeasurements.as_view(),
        name="viewer-measurements",
    ),
    path(
        "viewer/api/studies/<str:study>/measurements/<int:pk>/",
        api.MeasurementDetail.as_view(),
        name="viewer-measurement",
    ),
]

# OHIF Viewer 3 (files under /static/ohif/ from `make ohif`; the app and its config here).
ohif_urlpatterns = [
    path("ohif/app-config.js", ohif.app_config, name="ohif-config"),
    path("ohif/", ohif.app, name="ohif"),
    path("ohif/<path:path>", ohif.app),
]

# DICOMweb rendered and thumbnail resources (viewer branch; QIDO/WADO/STOW live beside them).
rendered_urlpatterns = [
    path(f"dicomweb/studies/{UID}/rendered", render_views.study_rendered),
    path(f"dicomweb/studies/{UID}/thumbnail", render_views.study_thumbnail),
    path(f"{SERIES}/rendered", render_views.series_rendered),
    path(f"{SERIES}/thumbnail", render_views.series_thumbnail),
    path(f"{INSTANCE}/rendered", render_views.instance_rendered, name="dicomweb-rendered"),
    path(f"{INSTANCE}/thumbnail", render_views.instance_thumbnail),
    path(f"{INSTANCE}/frames/<str:frames>/rendered", render_views.frames_rendered),
    path(f"{INSTANCE}/frames/<str:frames>/thumbnail", render_views.frames_thumbnail),
]

urlpatterns: list = [
    *imaging_urlpatterns,
    *viewer_urlpatterns,
    *ohif_urlpatterns,
    *rendered_urlpatterns,
]
