"""WADO-RS: whole instances (in the transfer syntax asked for), metadata, bulk data and
frames, read from storage."""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pydicom
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from pydicom.uid import UID

from core.audit import Action, audit_denied, audit_record
from pedslink.proxy import absolute_url
from viewer import storage
from viewer.dicomweb import multipart, transcode
from viewer.dicomweb.common import DICOM_JSON, _path
from viewer.integrations.auth import dicomweb_endpoint
from viewer.models import Instance
from viewer.selectors import instances_visible_to

FRAME_MEDIA = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.5": "image/dicom-rle",
}


def _instances_for(request: HttpRequest, study: str, series: str = "", sop: str = "") -> list:
    """The visible instances addressed by the URL; 404 and a denied row if there are none."""
    qs = instances_visible_to(request.user).filter(series__study__study_instance_uid=study)
    if series:
        qs = qs.filter(series__series_instance_uid=series)
    if sop:
        qs = qs.filter(sop_instance_uid=sop)
    instances = list(
        qs.select_related("series__study__patient").order_by(
            "series__series_number", "series_id", "instance_number", "id"
        )
    )
    if not instances:
        audit_denied(request, object_type="study", object_id=sop or series or study)
        raise Http404
    study_row = instances[0].series.study
    audit_record(
        request=request,
        action=Action.VIEW,
        obj=study_row,
        object_id=sop or series or study,
        patient=study_row.patient,
    )
    return instances


def _get_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @dicomweb_endpoint
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "GET":
            return HttpResponse(status=405, headers={"Allow": "GET"})
        return view(request, *args, **kwargs)

    return wrapper


def _not_acceptable(exc: transcode.NotAcceptable) -> HttpResponse:
    return JsonResponse({"detail": str(exc)}, status=406)


@_get_only
def wado(request: HttpRequest, study: str, series: str = "", instance: str = "") -> HttpResponse:
    """Whole study, series or instance as multipart/related; type="application/dicom", in
    the transfer syntax the Accept header asks for (PS3.18 §8.7.3): as stored when it names
    none or `*`, else the first one each instance can be produced in (stored, or decoded to
    explicit/implicit VR little endian); 406 if an instance can be sent in none."""
    accept = request.META.get("HTTP_ACCEPT", "")
    try:
        accepted = transcode.acceptable_syntaxes(accept)
    except transcode.NotAcceptable as exc:
        return _not_acceptable(exc)
    instances = _instances_for(request, study, series, instance)
    try:
        plan = [
            (i, transcode.choose(i.transfer_syntax_uid, accepted, small_enough=_transcodable(i)))
            for i in instances
        ]
    except transcode.NotAcceptable as exc:
        return _not_acceptable(exc)
    boundary = multipart.new_boundary()
    parts = (
        (f"application/dicom; transfer-syntax={syntax}", _instance_bytes(i, syntax))
        for i, syntax in plan
    )
    response = StreamingHttpResponse(
        multipart.stream_parts(parts, boundary),
        content_type=f'multipart/related; type="application/dicom"; boundary={boundary}',
    )
    return response


def _transcodable(instance: Instance) -> bool:
    cap = getattr(settings, "WADO_MAX_TRANSCODE_BYTES", 512 * 1024**2)
    size = transcode.decoded_size(
        instance.rows, instance.columns, instance.number_of_frames, instance.size
    )
    return size <= cap


def _instance_bytes(instance: Instance, syntax: str) -> Iterable[bytes]:
    """The stored file streamed, or (another syntax) transcoded when its part is sent."""
    if syntax == instance.transfer_syntax_uid:
        yield from storage.iter_stored(instance.storage_key)
        return
    with storage.open_stored(instance.storage_key) as fp:
        yield transcode.transcode(fp, syntax)


@_get_only
def wado_metadata(
    request: HttpRequest, study: str, series: str = "", instance: str = ""
) -> HttpResponse:
    """Headers as DICOM JSON; pixel data by BulkDataURI (the frames URL)."""
    instances = _instances_for(request, study, series, instance)
    return JsonResponse(
        [_metadata(request, i) for i in instances], safe=False, content_type=DICOM_JSON
    )


def _metadata(request: HttpRequest, instance: Instance) -> dict[str, Any]:
    with storage.open_stored(instance.storage_key) as fp:
        ds = pydicom.dcmread(fp, stop_before_pixels=True)
    data = ds.to_json_dict(
        bulk_data_threshold=64 * 1024,
        bulk_data_element_handler=lambda el: absolute_url(
            f"{_path(instance)}/bulk/{el.tag:08X}", request
        ),
    )
    if instance.rows:
        frames = ",".join(str(n) for n in range(1, instance.number_of_frames + 1))
        data["7FE00010"] = {
            "vr": "OB" if UID(instance.transfer_syntax_uid).is_compressed else "OW",
            "BulkDataURI": absolute_url(f"{_path(instance)}/frames/{frames}", request),
        }
    return data


@_get_only
def wado_bulk(request: HttpRequest, study: str, series: str, instance: str, tag: str) -> Any:
    """A large non-pixel value named by a metadata BulkDataURI."""
    (item,) = _instances_for(request, study, series, instance)
    with storage.open_stored(item.storage_key) as fp:
        ds = pydicom.dcmread(fp, stop_before_pixels=True)
    try:
        value = ds[int(tag, 16)].value
    except (KeyError, ValueError):
        raise Http404 from None
    boundary = multipart.new_boundary()
    body = multipart.stream_parts([("application/octet-stream", [bytes(value)])], boundary)
    return HttpResponse(
        b"".join(body),
        content_type=f'multipart/related; type="application/octet-stream"; boundary={boundary}',
    )


@_get_only
def wado_frames(
    request: HttpRequest, study: str, series: str, instance: str, frames: str
) -> HttpResponse:
    """Frames 1-based: raw native bytes or the compressed bitstream as stored, or decoded to
    native little endian when the Accept header asks for application/octet-stream with
    transfer-syntax 1.2.840.10008.1.2.1 (or none, PS3.18's default for octet-stream)."""
    (item,) = _instances_for(request, study, series, instance)
    try:
        numbers = [int(n) for n in frames.split(",")]
    except ValueError:
        return JsonResponse({"detail": "Frame numbers are 1, 2, …"}, status=400)
    if not item.rows or any(n < 1 or n > item.number_of_frames for n in numbers):
        return JsonResponse({"detail": "No such frame."}, status=404)
    stored_media = FRAME_MEDIA.get(item.transfer_syntax_uid, "application/octet-stream")
    try:
        plan = transcode.frame_plan(
            item.transfer_syntax_uid, stored_media, request.META.get("HTTP_ACCEPT", "")
        )
    except transcode.NotAcceptable as exc:
        return _not_acceptable(exc)
    media = plan.media
    boundary = multipart.new_boundary()
    if plan.decode:
        with storage.open_stored(item.storage_key) as fp:
            chunks = transcode.decoded_frames(fp, numbers)
    else:
        chunks = list(_read_frames(item, numbers))
    parts = [(f"{media}; transfer-syntax={plan.transfer_syntax}", [c]) for c in chunks]
    return HttpResponse(
        b"".join(multipart.stream_parts(parts, boundary)),
        content_type=f'multipart/related; type="{media}"; boundary={boundary}',
    )


def _read_frames(instance: Instance, numbers: list[int]) -> Iterator[bytes]:
    """Seek to each frame; never load the whole pixel data."""
    uid = UID(instance.transfer_syntax_uid)
    if uid.is_deflated:  # a deflated stream cannot be seeked: inflate it (size-capped file)
        yield from _deflated_frames(instance, numbers)
        return
    with storage.open_stored(instance.storage_key) as fp:
        ds = pydicom.dcmread(fp, stop_before_pixels=True)
        at = fp.tell()
        endian = ">" if uid == pydicom.uid.ExplicitVRBigEndian else "<"
        fp.seek(at)
        head = fp.read(12)
        implicit = uid.is_implicit_VR
        header_len = 8 if implicit else 12
        fp.seek(at + header_len)
        if uid.is_encapsulated:
            for number in numbers:
                yield pydicom.encaps.get_frame(
                    fp, number - 1, number_of_frames=instance.number_of_frames
                )
                fp.seek(at + header_len)
            return
        length = struct.unpack(endian + "L", head[header_len - 4 : header_len])[0]
        frame = length // max(instance.number_of_frames, 1)
        size = (ds.Rows * ds.Columns * ds.get("SamplesPerPixel", 1) * ds.BitsAllocated) // 8
        frame = size or frame
        swap = endian == ">" and ds.BitsAllocated in (16, 32)
        for number in numbers:
            fp.seek(at + header_len + (number - 1) * frame)
            data = fp.read(frame)
            # Frames are served little endian (their transfer-syntax says so).
            yield _little_endian(data, ds.BitsAllocated) if swap else data


def _deflated_frames(instance: Instance, numbers: list[int]) -> Iterator[bytes]:
    with storage.open_stored(instance.storage_key) as fp:
        ds = pydicom.dcmread(fp)
    data = ds.PixelData
    frame = len(data) // max(instance.number_of_frames, 1)
    for number in numbers:
        yield data[(number - 1) * frame : number * frame]


def _little_endian(data: bytes, bits: int) -> bytes:
    width = bits // 8
    return np.frombuffer(data, dtype=f">u{width}").astype(f"<u{width}").tobytes()
