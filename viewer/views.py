"""Imaging pages: upload for a child, the unmatched queue, ingest conflicts, DICOM nodes
and tokens."""

from __future__ import annotations

import io
import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.timezone import now
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from pydicom.uid import generate_uid

from consult.models import Patient, PatientIdentifier, Role
from consult.selectors import get_patient_for, get_visible_or_404, patients_visible_to
from core.audit import Action, audit_denied, audit_record
from pedslink.proxy import absolute_url
from viewer import storage
from viewer.forms import (
    AssignStudyForm,
    ConflictResolveForm,
    DicomNodeForm,
    IntegrationTokenForm,
    PhotoForm,
)
from viewer.ingest import header_diff, photos
from viewer.ingest.reader import IngestError
from viewer.ingest.services import (
    IngestResult,
    Sender,
    conflict_keep_stored,
    conflict_replace,
    ingest_finish,
    instance_ingest,
    may_replace,
    record_upload_audit,
    rejected,
    study_assign_patient,
    upload_ingest,
)
from viewer.integrations.services import (
    dicom_node_create,
    dicom_node_deactivate,
    integration_token_create,
    integration_token_revoke,
)
from viewer.models import DicomNode, IngestConflict, IntegrationToken, Source
from viewer.selectors import (
    conflicts_visible_to,
    instances_visible_to,
    open_conflicts_for,
    studies_for_patient,
    unmatched_studies_for,
)

MAX_HASHES = 5000


def _upload_patient(request: HttpRequest, pk: int) -> Patient:
    if not request.user.hospital_id:
        audit_denied(request, object_type="patient", object_id=str(pk), reason="no hospital")
        raise Http404
    return get_visible_or_404(
        request, patients_visible_to(request.user), pk=pk, object_type="patient"
    )


@login_required
def upload_page(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient_for(request, pk)
    studies = studies_for_patient(request.user, patient)
    return render(
        request,
        "viewer/upload.html",
        {
            "patient": patient,
            "patient_studies": studies,
            "max_bytes": settings.IMAGING_MAX_FILE_BYTES,
        },
    )


@login_required
@require_POST
def upload_files(request: HttpRequest, pk: int) -> JsonResponse:
    """The page sends one file (or a few) per request: DICOM files or zips."""
    patient = _upload_patient(request, pk)
    sender = Sender(
        hospital=request.user.hospital,
        source=Source.WEB,
        user=request.user,
        patient=patient,
        defer_index=True,
    )
    results: list[IngestResult] = []
    files = request.FILES.getlist("file")
    if not files:
        return JsonResponse({"detail": _("No file was sent.")}, status=400)
    # The page sends each file's folder path to label verdicts; it never names a stored file.
    paths = request.POST.getlist("path")
    for index, upload in enumerate(files):
        name = paths[index][:255] if index < len(paths) and paths[index] else upload.name
        results += upload_ingest(fp=upload.file, name=name, size=upload.size, sender=sender)
    ingest_finish(sender=sender, request=request, results=results, patient=patient)
    return JsonResponse({"results": [r.as_dict() for r in results]})


@login_required
@require_POST
def upload_have(request: HttpRequest, pk: int) -> JsonResponse:
    """Which of these file hashes the server already holds (resuming an interrupted upload)."""
    _upload_patient(request, pk)
    try:
        hashes = json.loads(request.body or b"{}").get("sha256", [])
        hashes = [h for h in hashes if isinstance(h, str) and len(h) == 64][:MAX_HASHES]
    except (ValueError, AttributeError):
        return JsonResponse({"detail": _('Send {"sha256": [...]}.')}, status=400)
    have = instances_visible_to(request.user).filter(sha256__in=hashes)
    return JsonResponse({"have": sorted(set(have.values_list("sha256", flat=True)))})


@login_required
@require_POST
def upload_photo(request: HttpRequest, pk: int) -> JsonResponse:
    """A photo of film, a picture or a PDF, wrapped as DICOM with the child's demographics."""
    patient = _upload_patient(request, pk)
    form = PhotoForm(request.POST, request.FILES)
    if not form.is_valid():
        return JsonResponse({"detail": form.errors.get_json_data()}, status=400)
    upload = form.cleaned_data["file"]
    result = _photo_result(request, patient, form.cleaned_data, upload)
    record_upload_audit(request=request, results=[result], patient=patient)
    return JsonResponse({"results": [result.as_dict()]})


def _photo_result(request: HttpRequest, patient: Patient, data: dict, upload: Any) -> IngestResult:
    # Photos and PDFs are read whole (Pillow, the PDF wrapper): their own, smaller cap.
    if upload.size > settings.IMAGING_MAX_PHOTO_BYTES:
        return rejected(upload.name, "too_large", _("The file is larger than the size limit."))
    raw = upload.read()
    batch, film = data["batch"], data["kind"] == "film"
    study_uid = generate_uid(entropy_srcs=["pedslink-photo", str(patient.pk), batch])
    series_uid = generate_uid(entropy_srcs=["pedslink-photo", str(patient.pk), batch, data["kind"]])
    demo = _demographics(request, patient)
    try:
        if raw.startswith(b"%PDF-"):
            encoded = photos.pdf_to_dicom(
                raw, demo=demo, study_uid=study_uid, series_uid=series_uid, when=now()
            )
            film = False
        else:
            encoded = photos.image_to_dicom(
                raw,
                demo=demo,
                study_uid=study_uid,
                series_uid=series_uid,
                when=now(),
                photo_of_film=film,
                max_pixels=settings.IMAGING_MAX_PHOTO_PIXELS,
            )
    except IngestError as exc:
        return rejected(upload.name, exc.code, exc)
    sender = Sender(
        hospital=request.user.hospital,
        source=Source.PHOTO,
        user=request.user,
        patient=patient,
        photo_of_film=film,
    )
    return instance_ingest(
        fp=io.BytesIO(encoded), name=upload.name, size=len(encoded), sender=sender
    )


def _demographics(request: HttpRequest, patient: Patient) -> photos.Demographics:
    ids = {i.hospital_id: i.mrn for i in PatientIdentifier.objects.filter(patient=patient)}
    mrn = ids.get(request.user.hospital_id) or ids.get(patient.home_hospital_id) or ""
    return photos.Demographics(
        name=patient.name,
        patient_id=mrn or f"PL{patient.pk}",
        birth_date=patient.birth_date,
        sex=patient.sex,
        institution=request.user.hospital.name_zh,
    )


# --- unmatched queue -----------------------------------------------------------------


@login_required
def unmatched_list(request: HttpRequest) -> HttpResponse:
    studies = unmatched_studies_for(request.user)[:200]
    return render(request, "viewer/unmatched.html", {"studies": studies, "form": AssignStudyForm()})


@login_required
@require_POST
def unmatched_assign(request: HttpRequest, pk: int) -> HttpResponse:
    study = get_visible_or_404(
        request, unmatched_studies_for(request.user), pk=pk, object_type="study"
    )
    form = AssignStudyForm(request.POST)
    if form.is_valid():
        identifier = (
            PatientIdentifier.objects.filter(
                hospital_id=request.user.hospital_id,
                mrn=form.cleaned_data["mrn"].strip(),
                patient__in=patients_visible_to(request.user),
            )
            .select_related("patient")
            .first()
        )
        if identifier is None:
            messages.error(request, _("No child of your hospital has that record number."))
        else:
            try:
                study_assign_patient(study=study, patient=identifier.patient, user=request.user)
                messages.success(
                    request, _("The study is filed under %(name)s.") % {"name": identifier.patient}
                )
            except IngestError as exc:
                messages.error(request, str(exc))
    return redirect("viewer:unmatched")


# --- ingest conflicts ---------------------------------------------------------------


def _audit_children(request: HttpRequest, conflicts: list[IngestConflict]) -> None:
    """One view row per child whose conflicts were listed (none when the list is empty)."""
    children = {c.existing.series.study.patient_id: c for c in conflicts}
    for conflict in children.values():
        audit_record(
            request=request,
            action=Action.VIEW,
            object_type="ingestconflict",
            object_id="list",
            patient=conflict.existing.series.study.patient,
        )


@login_required
def conflict_list(request: HttpRequest) -> HttpResponse:
    if request.user.role not in (Role.ADMIN, Role.REFERRING_DOCTOR):
        audit_denied(request, object_type="ingestconflict", object_id="list")
        raise Http404
    resolved = request.GET.get("state") == "resolved"
    qs = conflicts_visible_to(request.user)
    qs = qs.exclude(resolution="") if resolved else qs.filter(resolution="")
    conflicts = list(qs.order_by("-resolved_at" if resolved else "-received_at")[:200])
    _audit_children(request, conflicts)
    return render(request, "viewer/conflicts.html", {"conflicts": conflicts, "resolved": resolved})


@login_required
def conflict_count(request: HttpRequest) -> JsonResponse:
    """Open conflicts the user may resolve: the navigation badge fetches it after the page
    loaded (and on each live refresh), so pages pay no query for it."""
    count = open_conflicts_for(request.user).count()
    return JsonResponse({"open": count or ""})


def _conflict_for(request: HttpRequest, pk: int) -> IngestConflict:
    return get_visible_or_404(
        request, conflicts_visible_to(request.user), pk=pk, object_type="ingestconflict"
    )


@login_required
@require_http_methods(["GET", "POST"])
def conflict_detail(request: HttpRequest, pk: int) -> HttpResponse:
    conflict = _conflict_for(request, pk)
    study = conflict.existing.series.study
    form = ConflictResolveForm(request.POST or None)
    if request.method == "POST" and not conflict.resolution and form.is_valid():
        decide = (
            conflict_replace
            if form.cleaned_data["action"] == ConflictResolveForm.REPLACE
            else conflict_keep_stored
        )
        try:
            decide(conflict=conflict, user=request.user, reason=form.cleaned_data["reason"])
        except (IngestError, PermissionDenied, ValidationError) as exc:
            form.add_error(None, " ".join(getattr(exc, "messages", [str(exc)])))
        else:
            messages.success(request, _("The conflict is resolved."))
            return redirect("viewer:conflicts")
    audit_record(request=request, action=Action.VIEW, obj=conflict, patient=study.patient)
    rows, problem = _conflict_rows(conflict)
    return render(
        request,
        "viewer/conflict.html",
        {
            "conflict": conflict,
            "study": study,
            "instance": conflict.existing,
            "rows": rows,
            "differing": [r for r in rows if r.differs],
            "problem": problem,
            "form": form,
            "may_replace": may_replace(conflict, request.user),
        },
        status=400 if form.errors else 200,
    )


def _conflict_rows(conflict: IngestConflict) -> tuple[list[header_diff.Row], str]:
    """Both headers from storage (header only), or why they cannot be shown."""
    if not conflict.storage_key:
        return [], ""
    try:
        with storage.open_stored(conflict.existing.storage_key) as fp:
            stored = header_diff.read_header(fp)
        with storage.open_stored(conflict.storage_key) as fp:
            new = header_diff.read_header(fp)
    except (OSError, header_diff.InvalidDicomError, ValueError) as exc:
        return [], _("A header cannot be read: %(error)s") % {"error": exc}
    stored_first, new_first = (new, stored) if conflict.resolution else (stored, new)
    return header_diff.compare(stored_first, new_first), ""


@login_required
def conflict_file(request: HttpRequest, pk: int) -> HttpResponse:
    """The bytes this row keeps: the new version while open, the superseded one once
    replaced. A download of a child's images: an export audit row."""
    conflict = _conflict_for(request, pk)
    if not conflict.storage_key:
        raise Http404
    audit_record(
        request=request,
        action=Action.EXPORT,
        obj=conflict,
        patient=conflict.existing.series.study.patient,
    )
    return FileResponse(
        storage.open_stored(conflict.storage_key),
        as_attachment=True,
        filename=f"{conflict.sop_instance_uid}-{conflict.sha256[:8]}.dcm",
        content_type="application/dicom",
    )


# --- alliance admin: DICOM nodes and integration tokens --------------------------------


def _require_admin(request: HttpRequest, object_type: str) -> None:
    if request.user.role != Role.ADMIN:
        audit_denied(request, object_type=object_type, object_id="list")
        raise Http404


@login_required
@require_http_methods(["GET", "POST"])
def node_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request, "dicom_node")
    form = DicomNodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            dicom_node_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The DICOM node is registered."))
            return redirect("viewer:nodes")
    nodes = DicomNode.objects.select_related("hospital")
    return render(
        request,
        "viewer/nodes.html",
        {
            "nodes": nodes,
            "form": form,
            "ae_title": settings.DICOM_AE_TITLE,
            "port": settings.DICOM_PORT,
        },
    )


@login_required
@require_POST
def node_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request, "dicom_node")
    node = get_visible_or_404(request, DicomNode.objects.all(), pk=pk, object_type="dicom_node")
    dicom_node_deactivate(node=node, user=request.user)
    messages.success(request, _("The DICOM node can no longer send."))
    return redirect("viewer:nodes")


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    _require_admin(request, "integration_token")
    form = IntegrationTokenForm(request.POST or None)
    secret = None
    if request.method == "POST" and form.is_valid():
        _token, secret = integration_token_create(created_by=request.user, **form.cleaned_data)
        form = IntegrationTokenForm()
    tokens = IntegrationToken.objects.select_related("hospital", "created_by")
    return render(
        request,
        "viewer/tokens.html",
        {
            "tokens": tokens,
            "form": form,
            "secret": secret,
            "dicomweb_url": absolute_url("/dicomweb", request),
        },
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    _require_admin(request, "integration_token")
    token = get_visible_or_404(
        request, IntegrationToken.objects.all(), pk=pk, object_type="integration_token"
    )
    integration_token_revoke(token=token, user=request.user)
    messages.success(request, _("The token is revoked."))
    return redirect("viewer:tokens")
