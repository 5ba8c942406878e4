"""DICOMweb rendered and thumbnail resources (PS3.18 §9.5, §9.7), served from the render cache.

Study and series `rendered` answer multipart/related with the first frame of every instance;
an instance's `rendered` is its first frame; `frames/1,3/rendered` is one image for one
frame and multipart for several. Thumbnails are one image: the middle instance of a series
(of the first series for a study). Undecodable frames come back as a placeholder image with
a `Warning: 299` header giving the reason, never a 500.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from viewer.access import audit_study_view, get_instance_for, get_series_for, get_study_for
from viewer.integrations.auth import dicomweb_endpoint
from viewer.models import Instance, Study
from viewer.rendering import cache as render_cache
from viewer.rendering.cache import Result
from viewer.rendering.render import DEFAULT_QUALITY, RenderOptions, Window, negotiate

MAX_VIEWPORT = 4096
MAX_FRAMES_PER_REQUEST = 100


class BadRequest(Exception):
    pass


def dicomweb_view(func: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """GET only; session or integration token (as every DICOMweb resource); bad parameters
    answered 400 with the reason."""

    @dicomweb_endpoint
    @require_GET
    @wraps(func)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return func(request, *args, **kwargs)
        except BadRequest as exc:
            return HttpResponse(str(exc), status=400, content_type="text/plain")

    return wrapper


def parse_options(request: HttpRequest, *, frame: int = 0) -> RenderOptions:
    media_type = negotiate(request.headers.get("Accept", ""))
    if "accept" in request.GET:
        media_type = negotiate(request.GET["accept"])
    if media_type is None:
        raise BadRequest("Accept: only image/jpeg, image/png and image/webp are rendered")
    window = None
    if request.GET.get("window"):
        try:
            window = Window.parse(request.GET["window"])
        except ValueError as exc:
            raise BadRequest(f"window: {exc}") from exc
    viewport = None
    if request.GET.get("viewport"):
        try:
            w, h = (int(v) for v in request.GET["viewport"].split(",")[:2])
        except ValueError as exc:
            raise BadRequest("viewport must be width,height in pixels") from exc
        if not (1 <= w <= MAX_VIEWPORT and 1 <= h <= MAX_VIEWPORT):
            raise BadRequest(f"viewport must be between 1 and {MAX_VIEWPORT}")
        viewport = (w, h)
    quality = DEFAULT_QUALITY
    if request.GET.get("quality"):
        try:
            quality = int(request.GET["quality"])
        except ValueError as exc:
            raise BadRequest("quality must be 1-100") from exc
        if not 1 <= quality <= 100:
            raise BadRequest("quality must be 1-100")
    return RenderOptions(frame, window, viewport, media_type, quality)


def parse_frames(text: str, number_of_frames: int) -> list[int]:
    """`1,3,5` (1-based, as in the URL) → 0-based indices; 400 when out of range."""
    try:
        frames = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise BadRequest("frame numbers must be integers") from exc
    if not frames or len(frames) > MAX_FRAMES_PER_REQUEST:
        raise BadRequest(f"ask for 1 to {MAX_FRAMES_PER_REQUEST} frames")
    if any(not 1 <= f <= number_of_frames for f in frames):
        raise BadRequest(f"this instance has frames 1 to {number_of_frames}")
    return [f - 1 for f in frames]


def image_response(result: Result) -> HttpResponse:
    response = HttpResponse(result.data, content_type=result.media_type)
    response["Cache-Control"] = "private, max-age=3600"
    if result.problem:
        response["Warning"] = f'299 PedsLink "{result.problem}"'
        response["Cache-Control"] = "private, no-store"
    response["X-Render-Cache"] = "hit" if result.from_cache else "miss"
    return response


def multipart_response(results: list[Result]) -> HttpResponse:
    boundary = uuid.uuid4().hex
    media_type = results[0].media_type if results else "image/jpeg"
    parts = []
    for result in results:
        parts.append(f"--{boundary}\r\nContent-Type: {result.media_type}\r\n\r\n".encode())
        parts.append(result.data)
        parts.append(b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    content_type = f'multipart/related; type="{media_type}"; boundary={boundary}'
    response = HttpResponse(b"".join(parts), content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _first_frames(instances: list[Instance], options: RenderOptions) -> list[Result]:
    return [render_cache.rendered(instance, options) for instance in instances]


def _instances_of_study(study: Study) -> list[Instance]:
    return list(
        Instance.objects.filter(series__study=study).order_by(
            "series__series_number", "series_id", "instance_number", "id"
        )
    )


@dicomweb_view
def study_rendered(request: HttpRequest, study: str) -> HttpResponse:
    obj = get_study_for(request, study)
    options = parse_options(request)
    audit_study_view(request, obj)
    return multipart_response(_first_frames(_instances_of_study(obj), options))


@dicomweb_view
def series_rendered(request: HttpRequest, study: str, series: str) -> HttpResponse:
    obj = get_series_for(request, study, series)
    options = parse_options(request)
    audit_study_view(request, obj.study)
    return multipart_response(_first_frames(list(obj.instances.all()), options))


@dicomweb_view
def instance_rendered(request: HttpRequest, study: str, series: str, instance: str) -> HttpResponse:
    obj = get_instance_for(request, study, series, instance)
    options = parse_options(request)
    audit_study_view(request, obj.series.study)
    return image_response(render_cache.rendered(obj, options))


@dicomweb_view
def frames_rendered(
    request: HttpRequest, study: str, series: str, instance: str, frames: str
) -> HttpResponse:
    obj = get_instance_for(request, study, series, instance)
    indices = parse_frames(frames, obj.number_of_frames or 1)
    options = parse_options(request)
    audit_study_view(request, obj.series.study)
    results = [
        render_cache.rendered(
            obj,
            RenderOptions(i, options.window, options.viewport, options.media_type, options.quality),
        )
        for i in indices
    ]
    return image_response(results[0]) if len(results) == 1 else multipart_response(results)


def _thumbnail_media(request: HttpRequest) -> str:
    return parse_options(request).media_type


@dicomweb_view
def study_thumbnail(request: HttpRequest, study: str) -> HttpResponse:
    obj = get_study_for(request, study)
    media_type = _thumbnail_media(request)
    audit_study_view(request, obj)
    first = obj.series.order_by("series_number", "id").first()
    instance = render_cache.representative(first) if first else None
    return image_response(render_cache.thumbnail(instance, media_type))


@dicomweb_view
def series_thumbnail(request: HttpRequest, study: str, series: str) -> HttpResponse:
    obj = get_series_for(request, study, series)
    media_type = _thumbnail_media(request)
    audit_study_view(request, obj.study)
    return image_response(render_cache.thumbnail(render_cache.representative(obj), media_type))


@dicomweb_view
def instance_thumbnail(
    request: HttpRequest, study: str, series: str, instance: str
) -> HttpResponse:
    obj = get_instance_for(request, study, series, instance)
    media_type = _thumbnail_media(request)
    audit_study_view(request, obj.series.study)
    return image_response(render_cache.thumbnail(obj, media_type))


@dicomweb_view
def frames_thumbnail(
    request: HttpRequest, study: str, series: str, instance: str, frames: str
) -> HttpResponse:
    obj = get_instance_for(request, study, series, instance)
    index = parse_frames(frames, obj.number_of_frames or 1)[0]
    options = parse_options(request)
    audit_study_view(request, obj.series.study)
    thumb = RenderOptions(index, None, render_cache.THUMBNAIL_SIZE, options.media_type, 80)
    return image_response(render_cache.rendered(obj, thumb))
