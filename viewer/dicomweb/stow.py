"""STOW-RS: instances stored through the ingest pipeline, answered per instance."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _

from pedslink.proxy import absolute_url
from viewer.dicomweb import multipart
from viewer.dicomweb.common import DICOM_JSON, _path
from viewer.ingest.services import (
    FLUSH_EVERY,
    IngestResult,
    Outcome,
    Sender,
    ingest_finish,
    ingest_flush,
    instance_ingest,
    rejected,
)
from viewer.integrations.auth import dicomweb_endpoint
from viewer.models import Instance, Source

FAILURE_CODES = {"conflict": 0x0111, "too_large": 0xA700, "pixels_too_large": 0xA700}


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
