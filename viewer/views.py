"""Viewer pages: the study viewer, its manifest, and the lossless 16-bit frames it windows."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from viewer import render_cache
from viewer.access import audit_study_view, get_instance_for, get_study_for
from viewer.manifest import can_save_measurements, study_manifest, study_priors
from viewer.render_views import BadRequest, image_response, parse_frames


@require_GET
@login_required
def study_page(request: HttpRequest, study: str) -> HttpResponse:
    obj = get_study_for(request, study)
    audit_study_view(request, obj, always=True)
    manifest = study_manifest(obj, request.user)
    return render(
        request,
        "viewer/study.html",
        {
            "study": obj,
            "header": manifest["header"],
            "manifest": manifest,
            "priors": study_priors(obj, request.user),
            "can_open_ohif": can_save_measurements(request.user),
        },
    )


@require_GET
@login_required
def study_manifest_json(request: HttpRequest, study: str) -> JsonResponse:
    """The manifest of another study (a prior opened for comparison)."""
    obj = get_study_for(request, study)
    audit_study_view(request, obj)
    return JsonResponse(study_manifest(obj, request.user))


@require_GET
@login_required
def frame_modality16(
    request: HttpRequest, study: str, series: str, instance: str, frame: str
) -> HttpResponse:
    """A frame's stored values as a 16-bit greyscale PNG; X-Pixel-Offset, X-Rescale-Slope and
    X-Rescale-Intercept say how to turn them into modality values."""
    obj = get_instance_for(request, study, series, instance)
    try:
        index = parse_frames(frame, obj.number_of_frames or 1)[0]
    except BadRequest as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    audit_study_view(request, obj.series.study)
    result, meta = render_cache.modality16(obj, index)
    response = image_response(result)
    if meta:
        response["X-Pixel-Offset"] = str(meta["offset"])
        response["X-Rescale-Slope"] = repr(float(meta["slope"]))
        response["X-Rescale-Intercept"] = repr(float(meta["intercept"]))
    return response
