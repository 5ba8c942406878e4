"""DICOMweb: STOW-RS, QIDO-RS and WADO-RS under /dicomweb/.

Callers are a signed-in user (session) or a hospital system (Authorization: Bearer). Both
go through the same selectors as the pages; what a caller may not see answers 404 with a
denied audit row, and every answer about a child writes a view audit row naming the child.
"""

from __future__ import annotations

import functools
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import pydicom
from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from pydicom.uid import UID

from core.audit import Action, audit_denied, audit_record
from pedslink.proxy import absolute_url
from viewer import multipart, qido_fields, storage, transcode
from viewer.auth import dicomweb_endpoint
from viewer.models import Instance, Series, Source, Study
from viewer.selectors import instances_visible_to, series_visible_to, studies_visible_to
from viewer.services import (
    FLUSH_EVERY,
    IngestResult,
    Outcome,
    Sender,
    ingest_finish,
    ingest_flush,
    instance_ingest,
    rejected,
)

DICOM_JSON = "application/dicom+json"
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
FAILURE_CODES = {"conflict": 0x0111, "too_large": 0xA700, "pixels_too_large": 0xA700}
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


# --- authentication -------------------------------------------------------------------


# --- STOW-RS ----------------------------------------------------------------------------


@dicomweb_endpoint
def stow(request: HttpRequest, study: str = "") -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    media, params = multipart.parse_content_type(request.META.get("CONTENT_TYPE", ""))
    if media != "multipart/related" or not params.get("boundary"):
        return JsonResponse(
            {"detail": 'Expected multipart/related; type="application/dicom".'}, status=415
        )
    if params.get("type", "application/dicom").lower() != "application/dicom":
        return JsonResponse({"detail": "Only application/dicom parts are accepted."}, status=415)
    hospital = request.user.hospital
    if hospital is None:
        return JsonResponse({"detail": "The account has no hospital."}, status=403)
    sender = Sender(hospital=hospital, source=Source.STOW, user=request.user, defer_index=True)
    sender.study_instance_uid = study
    # Failure reasons go into DICOM attributes read by machines and their logs: English.
    with translation.override("en"):
        results, malformed = _stow_parts(request, params["boundary"], sender)
    ingest_finish(sender=sender, request=request, results=results, patient=None)
    if malformed:
        return JsonResponse({"detail": "The multipart body is malformed."}, status=400)
    return _stow_response(request, results)


def _stow_parts(
    request: HttpRequest, boundary: str, sender: Sender
) -> tuple[list[IngestResult], bool]:
    """Each part through the ingest pipeline; (results, whether the body was malformed).
    Parts stored before a malformation are still indexed by the caller's flush."""
    results: list[IngestResult] = []
    cap = settings.IMAGING_MAX_FILE_BYTES
    try:
        for index, part in enumerate(
            multipart.iter_parts(request.read, boundary, max_part_bytes=cap), start=1
        ):
            # Index a long body's earlier parts before the next one, so that the last batch
            # is left for the flush that also writes the audit row.
            if sender.backlog >= FLUSH_EVERY:
                ingest_flush(sender=sender)
            name = f"part {index}"
            if part.content_type not in ("application/dicom", ""):
                results.append(rejected(name, "media", _("Only application/dicom is accepted.")))
                continue
            if part.truncated:
                results.append(rejected(name, "too_large", _("The part is over the size limit.")))
                continue
            results.append(
                instance_ingest(fp=part.file, name=name, size=part.size, sender=sender, flush=False)
            )
    except multipart.MultipartError:
        return results, True
    return results, False


def _stow_response(request: HttpRequest, results: list[IngestResult]) -> HttpResponse:
    referenced, failed, studies = [], [], set()
    for result in results:
        if result.status in (Outcome.ACCEPTED, Outcome.ALREADY_STORED):
            studies.add(result.study_instance_uid)
            referenced.append(
                {
                    "00081150": _ui(result.sop_class_uid),
                    "00081155": _ui(result.sop_instance_uid),
                    "00081190": {"vr": "UR", "Value": [_instance_url(request, result)]},
                }
            )
        else:
            item = {
                "00081197": {"vr": "US", "Value": [FAILURE_CODES.get(result.code, 0xC000)]},
                "00000902": {"vr": "LO", "Value": [f"{result.name}: {result.reason}"[:64]]},
            }
            if result.sop_instance_uid:
                item["00081150"] = _ui(result.sop_class_uid)
                item["00081155"] = _ui(result.sop_instance_uid)
            failed.append(item)
    body: dict[str, Any] = {}
    if len(studies) == 1:
        url = absolute_url(f"/dicomweb/studies/{next(iter(studies))}", request)
        body["00081190"] = {"vr": "UR", "Value": [url]}
    if referenced:
        body["00081199"] = {"vr": "SQ", "Value": referenced}
    if failed:
        body["00081198"] = {"vr": "SQ", "Value": failed}
    status = 200 if not failed else (202 if referenced else 409)
    return JsonResponse(body, status=status, content_type=DICOM_JSON)


def _ui(value: str) -> dict[str, Any]:
    return {"vr": "UI", "Value": [value]} if value else {"vr": "UI"}


def _instance_url(request: HttpRequest, result: IngestResult) -> str:
    if not result.series_instance_uid:  # already stored: the row knows its series
        instance = Instance.objects.select_related("series__study").get(pk=result.instance_id)
        return absolute_url(_path(instance), request)
    return absolute_url(
        f"/dicomweb/studies/{result.study_instance_uid}/series/{result.series_instance_uid}"
        f"/instances/{result.sop_instance_uid}",
        request,
    )


def _path(instance: Instance) -> str:
    series = instance.series
    return (
        f"/dicomweb/studies/{series.study.study_instance_uid}/series/"
        f"{series.series_instance_uid}/instances/{instance.sop_instance_uid}"
    )


# --- QIDO-RS ----------------------------------------------------------------------------

KEYWORDS = {
    "00100020": "PatientID",
    "00100010": "PatientName",
    "00080020": "StudyDate",
    "00080061": "ModalitiesInStudy",
    "0020000D": "StudyInstanceUID",
    "00080050": "AccessionNumber",
    "0020000E": "SeriesInstanceUID",
    "00080060": "Modality",
    "00200011": "SeriesNumber",
    "00080018": "SOPInstanceUID",
    "00080016": "SOPClassUID",
    "00200013": "InstanceNumber",
}


def _params(request: HttpRequest) -> dict[str, str]:
    out = {}
    for key, value in request.GET.items():
        out[KEYWORDS.get(key.upper(), key)] = value
    return out


def wildcard_regex(pattern: str) -> str:
    """A DICOM wildcard (* and ?) as a regex matching one person-name group or the value."""
    body = "".join(
        "[^=]*" if ch == "*" else "[^=]" if ch == "?" else re.escape(ch) for ch in pattern
    )
    return rf"(^|=){body}($|=)"


def _match(field: str, value: str) -> Q:
    if "*" in value or "?" in value:
        return Q(**{f"{field}__iregex": wildcard_regex(value)})
    return Q(**{field: value})


def _date_range(field: str, value: str) -> Q:
    start, dash, end = value.partition("-")
    try:
        if not dash:
            return Q(**{field: _dicom_date(start)})
        q = Q()
        if start:
            q &= Q(**{f"{field}__gte": _dicom_date(start)})
        if end:
            q &= Q(**{f"{field}__lte": _dicom_date(end)})
        return q
    except ValueError:
        raise BadQuery(f"StudyDate {value!r} is not a DICOM date or range.") from None


def _dicom_date(value: str) -> str:
    value = value.replace(".", "").strip()
    if not re.fullmatch(r"\d{8}", value):
        raise ValueError(value)
    return f"{value[:4]}-{value[4:6]}-{value[6:]}"


class BadQuery(ValueError):
    pass


def _study_filter(params: dict[str, str], prefix: str = "") -> Q:
    q = Q()
    if value := params.get("PatientID"):
        q &= _match(prefix + "patient_id_in_file", value)
    if value := params.get("PatientName"):
        if "*" not in value and "?" not in value:
            value = value + "*"  # names match by their start, as most PACS do
        q &= _match(prefix + "patient_name_in_file", value)
    if value := params.get("StudyDate"):
        q &= _date_range(prefix + "study_date", value)
    if value := params.get("ModalitiesInStudy"):
        q &= Q(**{prefix + "modalities__iregex": rf"(^|\\)({_alternatives(value)})($|\\)"})
    if value := params.get("StudyInstanceUID"):
        q &= Q(**{prefix + "study_instance_uid__in": value.replace(",", "\\").split("\\")})
    if value := params.get("AccessionNumber"):
        q &= _match(prefix + "accession_number", value)
    return q


def _alternatives(value: str) -> str:
    return "|".join(re.escape(m) for m in re.split(r"[\\,]", value) if m)


def _page(request: HttpRequest, qs: QuerySet) -> QuerySet:
    try:
        limit = min(int(request.GET.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
        offset = max(int(request.GET.get("offset", 0)), 0)
    except ValueError:
        raise BadQuery("limit and offset must be whole numbers.") from None
    return qs[offset : offset + max(limit, 0)]


def _qido(builder: Callable[[HttpRequest, dict[str, str], dict[str, str]], Any]) -> Callable:
    @dicomweb_endpoint
    @functools.wraps(builder)
    def view(request: HttpRequest, **kwargs: str) -> HttpResponse:
        if request.method != "GET":
            return HttpResponse(status=405, headers={"Allow": "GET"})
        try:
            include = qido_fields.parse(request.GET)
            rows, patients = builder(request, _params(request), kwargs)
        except (BadQuery, qido_fields.BadInclude) as exc:
            return JsonResponse({"detail": str(exc)}, status=400)
        level, objects = getattr(request, "qido_objects", ("", []))
        warning = qido_fields.complete(rows, objects, level, include) if level else ""
        _audit_view(request, patients, object_type="qido", object_id=request.path)
        response = JsonResponse(rows, safe=False, content_type=DICOM_JSON)
        if warning:
            response["Warning"] = f'299 pedslink "{warning}"'
        return response

    return view


def _audit_view(request: HttpRequest, patients: Iterable[Any], **kwargs: str) -> None:
    seen = {p.pk: p for p in patients if p is not None}
    if not seen:
        audit_record(request=request, action=Action.VIEW, **kwargs)
    for patient in seen.values():
        audit_record(request=request, action=Action.VIEW, patient=patient, **kwargs)


@_qido
def qido_studies(
    request: HttpRequest, params: dict[str, str], kwargs: dict[str, str]
) -> tuple[list, list]:
    qs = studies_visible_to(request.user).filter(_study_filter(params)).select_related("patient")
    studies = list(_page(request, qs.order_by("-study_date", "-id")))
    request.qido_objects = ("study", studies)  # type: ignore[attr-defined]
    return [_study_json(request, s) for s in studies], [s.patient for s in studies]


@_qido
def qido_series(
    request: HttpRequest, params: dict[str, str], kwargs: dict[str, str]
) -> tuple[list, list]:
    qs = series_visible_to(request.user).select_related("study__patient")
    if study := kwargs.get("study"):
        qs = qs.filter(study__study_instance_uid=study)
    qs = qs.filter(_study_filter(params, prefix="study__"))
    if value := params.get("Modality"):
        qs = qs.filter(modality__in=re.split(r"[\\,]", value))
    if value := params.get("SeriesInstanceUID"):
        qs = qs.filter(series_instance_uid__in=value.replace(",", "\\").split("\\"))
    if value := params.get("SeriesNumber"):
        qs = qs.filter(series_number=_number(value))
    series = list(_page(request, qs.order_by("study_id", "series_number", "id")))
    request.qido_objects = ("series", series)  # type: ignore[attr-defined]
    return [_series_json(request, s) for s in series], [s.study.patient for s in series]


@_qido
def qido_instances(
    request: HttpRequest, params: dict[str, str], kwargs: dict[str, str]
) -> tuple[list, list]:
    qs = instances_visible_to(request.user).select_related("series__study__patient")
    if study := kwargs.get("study"):
        qs = qs.filter(series__study__study_instance_uid=study)
    if series := kwargs.get("series"):
        qs = qs.filter(series__series_instance_uid=series)
    qs = qs.filter(_study_filter(params, prefix="series__study__"))
    if value := params.get("SOPInstanceUID"):
        qs = qs.filter(sop_instance_uid__in=value.replace(",", "\\").split("\\"))
    if value := params.get("SOPClassUID"):
        qs = qs.filter(sop_class_uid=value)
    if value := params.get("InstanceNumber"):
        qs = qs.filter(instance_number=_number(value))
    if value := params.get("Modality"):
        qs = qs.filter(series__modality__in=re.split(r"[\\,]", value))
    instances = list(_page(request, qs.order_by("series_id", "instance_number", "id")))
    request.qido_objects = ("instance", instances)  # type: ignore[attr-defined]
    return [_instance_json(request, i) for i in instances], [
        i.series.study.patient for i in instances
    ]


def _number(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise BadQuery(f"{value!r} is not a number.") from None


# The attributes a QIDO-RS result carries by default (PS3.18 §8.3.4.3; more with includefield),
# taken from what the index knows (viewer.qido_fields), plus the Retrieve URL.
STUDY_DEFAULT = ("00080020", "00080030", "00080050", "00080061", "00081030", "00100010",
                 "00100020", "0020000D", "00201206", "00201208")  # fmt: skip
SERIES_DEFAULT = ("0020000D", "0020000E", "00080060", "0008103E", "00180015", "00200011",
                  "00201209")  # fmt: skip
INSTANCE_DEFAULT = ("0020000D", "0020000E", "00080016", "00080018", "00200013", "00280008",
                    "00280010", "00280011")  # fmt: skip


def _defaults(indexed: dict[str, Any], tags: tuple[str, ...], url: str) -> dict[str, Any]:
    return {**{t: indexed[t] for t in tags}, "00081190": qido_fields.text_value(url, "UR")}


def _study_json(request: HttpRequest, study: Study) -> dict[str, Any]:
    url = absolute_url(f"/dicomweb/studies/{study.study_instance_uid}", request)
    return _defaults(qido_fields.study_indexed(study), STUDY_DEFAULT, url)


def _series_json(request: HttpRequest, series: Series) -> dict[str, Any]:
    url = absolute_url(
        f"/dicomweb/studies/{series.study.study_instance_uid}/series/{series.series_instance_uid}",
        request,
    )
    return _defaults(qido_fields.series_indexed(series), SERIES_DEFAULT, url)


def _instance_json(request: HttpRequest, instance: Instance) -> dict[str, Any]:
    url = absolute_url(_path(instance), request)
    return _defaults(qido_fields.instance_indexed(instance), INSTANCE_DEFAULT, url)


# --- WADO-RS ----------------------------------------------------------------------------


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


# GET and POST share the same URLs (PS3.18): dispatch by method before authenticating twice.
@csrf_exempt  # checked inside for session callers; bearer callers carry no cookie
def stow_or_qido_studies(request: HttpRequest) -> HttpResponse:
    return stow(request) if request.method == "POST" else qido_studies(request)


@csrf_exempt
def stow_or_wado_study(request: HttpRequest, study: str) -> HttpResponse:
    return stow(request, study=study) if request.method == "POST" else wado(request, study=study)


def _little_endian(data: bytes, bits: int) -> bytes:
    width = bits // 8
    return np.frombuffer(data, dtype=f">u{width}").astype(f"<u{width}").tobytes()
