from django.urls import path

from viewer import api, ohif, render_views, views

app_name = "viewer"

UID = "<str:study>"
SERIES = f"dicomweb/studies/{UID}/series/<str:series>"
INSTANCE = f"{SERIES}/instances/<str:instance>"

# Viewer pages and their JSON (viewer branch).
viewer_urlpatterns = [
    path("viewer/studies/<str:study>/", views.study_page, name="viewer-study"),
    path(
        "viewer/studies/<str:study>/manifest.json",
        views.study_manifest_json,
        name="viewer-manifest",
    ),
    path(
        "viewer/studies/<str:study>/series/<str:series>/instances/<str:instance>"
        "/frames/<str:frame>/modality.png",
        views.frame_modality16,
        name="viewer-modality16",
    ),
    path(
        "viewer/studies/<str:study>/series/<str:series>/frames",
        views.series_frames_batch,
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

urlpatterns: list = [*viewer_urlpatterns, *ohif_urlpatterns, *rendered_urlpatterns]
