"""Viewer pages: the study viewer, its manifest, and the lossless 16-bit frames it windows."""

from __future__ import annotations

import gzip
import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from viewer import render_cache
from viewer.access import audit_study_view, get_instance_for, get_series_for, get_study_for
from viewer.manifest import (
    DICOMWEB,
    can_save_measurements,
    study_manifest,
    study_priors,
    wire_form,
)
from viewer.render import RenderOptions
from viewer.render_views import BadRequest, image_response, parse_frames, parse_options


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
            "manifest": wire_form(manifest),
            "priors": study_priors(obj, request.user),
            "can_open_ohif": can_save_measurements(request.user),
            "first_frame": first_frame_urls(manifest),
        },
    )


def first_frame_urls(manifest: dict) -> dict[str, str]:
    """URLs of the first image as the viewer will ask for it, for the page to preload."""
    series = next((s for s in manifest["series"] if s["instances"]), None)
    if series is None or series["instances"][0]["problem"]:
        return {}
    first = series["instances"][0]
    base = DICOMWEB.format(study=manifest["uid"], series=series["uid"], instance=first["uid"])
    urls = {"server": f"{base}/frames/1/rendered"}
    if first["info"].get("local_window"):
        urls["local"] = (
            manifest["modality_u16"]
            .replace("{series}", series["uid"])
            .replace("{instance}", first["uid"])
            .replace("{frame}", "1")
        )
    if first["rows"] * first["columns"] > 1024 * 1024:
        urls.pop("server")  # the viewer asks for a reduced rendering instead
    return urls


@require_GET
@login_required
def study_manifest_json(request: HttpRequest, study: str) -> JsonResponse:
    """The manifest of another study (a prior opened for comparison)."""
    obj = get_study_for(request, study)
    audit_study_view(request, obj)
    return JsonResponse(wire_form(study_manifest(obj, request.user)))


@require_GET
@login_required
def frame_modality16(
    request: HttpRequest, study: str, series: str, instance: str, frame: str
) -> HttpResponse:
    """A frame's stored values as a 16-bit greyscale PNG; X-Pixel-Offset, X-Rescale-Slope and
    X-Rescale-Intercept say how to turn them into modality values."""
    return _modality_response(request, study, series, instance, frame, "png")


@require_GET
@login_required
def frame_modality_u16(
    request: HttpRequest, study: str, series: str, instance: str, frame: str
) -> HttpResponse:
    """What the viewer windows: a frame's stored values as raw little-endian uint16, row by
    row (X-Rows × X-Columns), read as modality.png says. Sent gzipped (`Content-Encoding`)
    to clients that accept it, which every browser does."""
    response = _modality_response(request, study, series, instance, frame, "u16")
    if response.status_code == 200 and not response.has_header("Warning"):
        patch_vary_headers(response, ("Accept-Encoding",))
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            response["Content-Encoding"] = "gzip"
        else:
            response.content = gzip.decompress(response.content)
    return response


def _modality_response(
    request: HttpRequest, study: str, series: str, instance: str, frame: str, form: str
) -> HttpResponse:
    obj = get_instance_for(request, study, series, instance)
    try:
        index = parse_frames(frame, obj.number_of_frames or 1)[0]
    except BadRequest as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    audit_study_view(request, obj.series.study)
    result, meta = render_cache.modality16(obj, index, form)
    response = image_response(result)
    for name, value in render_cache.modality16_headers(meta).items():
        response[name] = value
    return response


MAX_BATCH = 32


@require_GET
@login_required
def series_frames_batch(request: HttpRequest, study: str, series: str) -> HttpResponse:
    """Many frames of a series in one response, so that loading a 300-slice series costs a
    few requests rather than 300 (per-request overhead, not pixels, is what limits a series).

    Query: `frames=<instance uid>:<frame>,...` (frames 1-based, at most 32), `kind=m16` (the
    lossless 16-bit PNGs), `kind=u16` (each frame's modality.u16 as its own gzip member,
    exactly the bytes modality.u16 sends with Content-Encoding: gzip; the response itself
    is not Content-Encoded, because browsers stop reading a gzip body after its first
    member, so the page inflates each part) or `kind=jpeg` (server-rendered; `window=c,w`
    as for `rendered`).
    Body: 4-byte big-endian length of a JSON index, the index (one entry per frame: uid,
    frame, length, problem, offset/slope/intercept for m16 and u16, rows/columns for u16),
    then the images back to back.
    """
    obj = get_series_for(request, study, series)
    kind = request.GET.get("kind", "m16")
    try:
        wanted = _parse_batch(request.GET.get("frames", ""))
        options = parse_options(request)
    except BadRequest as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    if kind not in ("m16", "u16", "jpeg"):
        return HttpResponse("kind must be m16, u16 or jpeg", status=400, content_type="text/plain")
    instances = {
        i.sop_instance_uid: i
        for i in obj.instances.filter(sop_instance_uid__in={uid for uid, _f in wanted})
    }
    audit_study_view(request, obj.study)
    index, blobs = [], []
    for uid, frame in wanted:
        instance = instances.get(uid)
        if instance is None or not 1 <= frame <= (instance.number_of_frames or 1):
            index.append(
                {"uid": uid, "frame": frame, "length": 0, "problem": "There is no such frame."}
            )
            continue
        if kind in ("m16", "u16"):
            form = "png" if kind == "m16" else "u16"
            result, meta = render_cache.modality16(instance, frame - 1, form)
        else:
            meta = {}
            result = render_cache.rendered(
                instance,
                RenderOptions(
                    frame - 1, options.window, options.viewport, "image/jpeg", options.quality
                ),
            )
        # A failed u16 frame sends no placeholder: the page shows the problem instead.
        data = b"" if kind == "u16" and result.problem else result.data
        index.append(
            {"uid": uid, "frame": frame, "length": len(data), "problem": result.problem, **meta}
        )
        blobs.append(data)
    head = json.dumps(index).encode()
    body = b"".join([len(head).to_bytes(4, "big"), head, *blobs])
    response = HttpResponse(body, content_type="application/octet-stream")
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _parse_batch(text: str) -> list[tuple[str, int]]:
    out = []
    for part in text.split(","):
        uid, _sep, frame = part.strip().rpartition(":")
        if not uid or not frame.isdigit():
            raise BadRequest("frames must be <instance uid>:<frame>,...")
        out.append((uid, int(frame)))
    if not 1 <= len(out) <= MAX_BATCH:
        raise BadRequest(f"ask for 1 to {MAX_BATCH} frames")
    return out
