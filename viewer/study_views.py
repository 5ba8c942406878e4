"""Viewer pages: the study viewer, its manifest, and the lossless 16-bit frames it windows."""

from __future__ import annotations

import gzip

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from viewer.access import (
    _denied,
    audit_study_view,
    get_instance_for,
    get_series_for,
    get_study_for,
    may_see_study,
)
from viewer.manifest import (
    DICOMWEB,
    can_save_measurements,
    study_manifest,
    study_priors,
    wire_form,
)
from viewer.models import Instance, Study
from viewer.rendering import cache as render_cache
from viewer.rendering import links as frame_links
from viewer.rendering.render import RenderOptions
from viewer.rendering.views import BadRequest, image_response, parse_frames, parse_options


@require_GET
@login_required
def study_page(request: HttpRequest, study: str) -> HttpResponse:
    obj = get_study_for(request, study)
    audit_study_view(request, obj, always=True)
    manifest = with_grant(request, study_manifest(obj, request.user), obj)
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


def with_grant(request: HttpRequest, manifest: dict, study: Study) -> dict:
    """The manifest with this session's grant for the study's cached frames (the caller has
    checked access and audited the view): the page links them as `<frames>/<key>/<n>.jpg`."""
    if request.session.session_key is None:
        return manifest
    grant = frame_links.grant_for(
        study_id=study.pk, user_id=request.user.pk, session_key=request.session.session_key
    )
    return {**manifest, "frames": f"{frame_links.PREFIX}{grant}"}


def first_frame_urls(manifest: dict) -> dict[str, str]:
    """URLs of the first image as the viewer will ask for it, for the page to preload
    (static/js/viewer/viewport.js frameUrl builds the same)."""
    series = next((s for s in manifest["series"] if s["instances"]), None)
    if series is None or series["instances"][0]["problem"]:
        return {}
    first = series["instances"][0]
    signed = f"{manifest['frames']}/{first['k']}" if "frames" in manifest and "k" in first else ""
    base = DICOMWEB.format(study=manifest["uid"], series=series["uid"], instance=first["uid"])
    urls = {"server": f"{signed}/1.jpg" if signed else f"{base}/frames/1/rendered"}
    if first["info"].get("local_window"):
        urls["local"] = (
            f"{signed}/1.u16"
            if signed
            else manifest["modality_u16"]
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
    return JsonResponse(wire_form(with_grant(request, study_manifest(obj, request.user), obj)))


@require_GET
@login_required
def frame_link(request: HttpRequest, grant: str, key: str, frame: str, form: str) -> HttpResponse:
    """A signed frame link that viewer.rendering.links did not answer in front of Django (grant
    expired or issued to another session, frame not cached yet, 16-bit frame on object
    storage): checked and audited here as every image request is, rendered if missing."""
    link = frame_links.parse(f"{frame_links.PREFIX}{grant}/{key}/{frame}.{form}")
    payload = link and frame_links.grant_payload(link.grant, max_age=None)
    if link is None or payload is None or not link.key_is_for(payload["s"]):
        raise _denied(request, "frame-link", key)
    instance = (
        Instance.objects.select_related("series__study__patient")
        .filter(pk=link.instance_id, series__study_id=payload["s"])
        .first()
    )
    if (
        instance is None
        or not instance.sha256.startswith(link.version)
        or not may_see_study(request, payload["s"])
    ):
        raise _denied(request, "frame-link", key)
    if link.frame > (instance.number_of_frames or 1):
        return HttpResponse("There is no such frame.", status=400, content_type="text/plain")
    audit_study_view(request, instance.series.study)
    if form == "jpg":
        return image_response(render_cache.rendered(instance, RenderOptions(frame=link.frame - 1)))
    return _u16_response(request, _modality16_of(instance, link.frame - 1, "u16"))


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
    return _u16_response(
        request, _modality_response(request, study, series, instance, frame, "u16")
    )


def _u16_response(request: HttpRequest, response: HttpResponse) -> HttpResponse:
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
    return _modality16_of(obj, index, form)


def _modality16_of(instance: Instance, index: int, form: str) -> HttpResponse:
    result, meta = render_cache.modality16(instance, index, form)
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
    return _batch_response(
        [({"uid": uid}, instances.get(uid), frame) for uid, frame in wanted], kind, options
    )


@require_GET
@login_required
def frame_link_batch(request: HttpRequest, grant: str, parts: str, form: str) -> HttpResponse:
    """A signed batch link (many frames of a study) that viewer.rendering.links did not answer in
    front of Django: checked and audited here, frames rendered if missing. Each frame's index
    entry names it by its key (`k`), as the verifier's answer does."""
    links = frame_links.parse_batch(f"{frame_links.PREFIX}{grant}/batch/{parts}.{form}")
    payload = links and frame_links.grant_payload(links[0].grant, max_age=None)
    if not links or payload is None or not all(link.key_is_for(payload["s"]) for link in links):
        raise _denied(request, "frame-link", parts)
    study = Study.objects.filter(pk=payload["s"]).first()
    if study is None or not may_see_study(request, study.pk):
        raise _denied(request, "frame-link", parts)
    instances = {
        i.pk: i
        for i in Instance.objects.filter(
            pk__in={link.instance_id for link in links}, series__study_id=study.pk
        )
    }
    audit_study_view(request, study)
    wanted = []
    for link in links:
        instance = instances.get(link.instance_id)
        if instance is not None and not instance.sha256.startswith(link.version):
            instance = None  # the file was replaced since the page was opened
        wanted.append(({"k": link.key}, instance, link.frame))
    return _batch_response(wanted, "u16" if form == "u16" else "jpeg", RenderOptions())


def _batch_response(
    wanted: list[tuple[dict, Instance | None, int]], kind: str, options: RenderOptions
) -> HttpResponse:
    """The frames asked for, each named by its label (`uid` or `k`), in one response
    (the layout is frame_links.batch_body's)."""
    entries = []
    for label, instance, frame in wanted:
        if instance is None or not 1 <= frame <= (instance.number_of_frames or 1):
            entries.append(
                ({**label, "frame": frame, "length": 0, "problem": "There is no such frame."}, b"")
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
        entry = {**label, "frame": frame, "length": len(data), "problem": result.problem, **meta}
        entries.append((entry, data))
    response = HttpResponse(
        frame_links.batch_body(entries), content_type="application/octet-stream"
    )
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
