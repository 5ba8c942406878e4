"""QIDO-RS: studies, series and instances searched through the selectors, as DICOM JSON."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse

from core.audit import Action, audit_record
from pedslink.proxy import absolute_url
from viewer.dicomweb import qido_fields
from viewer.dicomweb.common import DICOM_JSON, _path
from viewer.integrations.auth import dicomweb_endpoint
from viewer.models import Instance, Series, Study
from viewer.selectors import instances_visible_to, series_visible_to, studies_visible_to

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


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
# taken from what the index knows (viewer.dicomweb.qido_fields), plus the Retrieve URL.
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
