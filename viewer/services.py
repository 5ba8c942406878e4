"""Every write to the imaging index. Browser upload, STOW-RS, C-STORE and photos all call
`instance_ingest`: check → store → index → on commit, queue the render caches."""

from __future__ import annotations

import hashlib
import logging
import secrets
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from consult.audit import Action, audit_record
from consult.models import Hospital, Patient, PatientIdentifier, Role, User
from viewer import ingest, measure, render_cache, storage
from viewer.ingest import Header, IngestError, Limits
from viewer.manifest import can_save_measurements
from viewer.models import (
    DicomNode,
    IngestConflict,
    Instance,
    IntegrationToken,
    Measurement,
    RenderInfo,
    Series,
    Source,
    Study,
)
from viewer.tasks import build_render_caches

log = logging.getLogger(__name__)
# A long batch (zip, STOW body, C-STORE association) recounts and queues renders this often.
FLUSH_EVERY = 50


class Outcome:
    ACCEPTED = "accepted"
    ALREADY_STORED = "already_stored"
    CONFLICT = "conflict"
    REJECTED = "rejected"


@dataclass
class IngestResult:
    name: str
    status: str
    reason: str = ""
    code: str = ""
    sop_instance_uid: str = ""
    sop_class_uid: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""
    instance_id: int | None = None
    patient_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "code": self.code,
            "sop_instance_uid": self.sop_instance_uid,
            "study_instance_uid": self.study_instance_uid,
        }


@dataclass
class Pending:
    """A stored file waiting for its batch's INSERT; its result is completed then."""

    header: Header
    stored: storage.Stored
    patient: Patient | None
    result: IngestResult


@dataclass
class Sender:
    """Who is sending: the hospital, the person (none for C-STORE), the way in, and the child
    the upload is for (browser and photos) if chosen."""

    hospital: Hospital
    source: str
    user: User | None = None
    patient: Patient | None = None
    study_instance_uid: str = ""  # STOW-RS /studies/{study}: every instance must belong to it
    photo_of_film: bool = False
    # Per request / association: rows already looked up, and what the next flush recounts.
    mrn_cache: dict[str, Patient | None] = field(default_factory=dict)
    study_cache: dict[str, Study | None] = field(default_factory=dict)
    series_cache: dict[str, Series] = field(default_factory=dict)
    touched_studies: set[int] = field(default_factory=set)
    touched_series: set[int] = field(default_factory=set)
    new_series: bool = False
    # Batches (STOW body, zip, upload request) index their instances in one INSERT at flush.
    defer_index: bool = False
    pending: list[Pending] = field(default_factory=list)

    @property
    def backlog(self) -> int:
        """Instances stored since the last flush."""
        return len(self.pending) + len(self.new_instance_ids)

    new_instance_ids: list[int] = field(default_factory=list)


def ingest_limits() -> Limits:
    return Limits(
        max_file_bytes=settings.IMAGING_MAX_FILE_BYTES,
        max_pixel_bytes=settings.IMAGING_MAX_PIXEL_BYTES,
        max_zip_members=settings.IMAGING_MAX_ZIP_MEMBERS,
        max_zip_bytes=settings.IMAGING_MAX_ZIP_BYTES,
        max_sequence_depth=settings.IMAGING_MAX_SEQUENCE_DEPTH,
        parse_seconds=settings.IMAGING_PARSE_SECONDS,
        max_header_bytes=settings.IMAGING_MAX_HEADER_BYTES,
    )


def instance_ingest(
    *, fp: IO[bytes], name: str, size: int, sender: Sender, flush: bool = True
) -> IngestResult:
    """Ingest one PS3.10 file: validate, parse the header, dedupe, store, index.

    Never raises for bad input: the result says accepted / already stored / conflict /
    rejected with a reason. The instance row is committed before this returns, unless the
    sender batches (`defer_index`: one INSERT per STOW body or upload request at flush,
    which then completes the results). Counts and the render-cache task follow in
    `ingest_flush`, called here unless `flush=False` (a batch) and then once by the caller.
    """
    result = _ingest_one(fp=fp, name=name, size=size, sender=sender)
    if flush:
        ingest_flush(sender=sender)
    return result


def _ingest_one(*, fp: IO[bytes], name: str, size: int, sender: Sender) -> IngestResult:
    try:
        header = ingest.parse_header(fp, size=size, limits=ingest_limits())
        patient = _match_patient(header, sender)
    except IngestError as exc:
        return IngestResult(name=name, status=Outcome.REJECTED, reason=str(exc), code=exc.code)
    # Insert first, dedupe on the unique SOP Instance UID: one query fewer for every new
    # instance; a duplicate costs a write and a delete instead.
    stored = storage.store_file(fp, add_preamble=not header.has_preamble)
    if sender.defer_index:
        result = _accepted(name, header, patient)
        sender.pending.append(Pending(header, stored, patient, result))
        return result
    try:
        instance = _index(header, stored, patient=patient, sender=sender)
    except IntegrityError:
        # The rolled-back transaction may have created cached rows: forget them.
        sender.study_cache.clear()
        sender.series_cache.clear()
        existing = Instance.objects.filter(sop_instance_uid=header.sop_instance_uid).first()
        if existing is None:  # pragma: no cover - some other constraint: not ours to hide
            storage.delete_stored(stored.key)
            raise
        return _duplicate(stored, name=name, header=header, existing=existing, sender=sender)
    result = _accepted(name, header, patient)
    result.instance_id = instance.pk
    return result


def _accepted(name: str, header: Header, patient: Patient | None) -> IngestResult:
    return IngestResult(
        name=name,
        status=Outcome.ACCEPTED,
        sop_instance_uid=header.sop_instance_uid,
        sop_class_uid=header.sop_class_uid,
        study_instance_uid=header.study_instance_uid,
        series_instance_uid=header.series_instance_uid,
        patient_id=patient.pk if patient else None,
    )


def _match_patient(header: Header, sender: Sender) -> Patient | None:
    """The chosen child, else the child whose MRN at the sending hospital is the PatientID."""
    by_mrn = None
    if header.patient_id:
        if header.patient_id not in sender.mrn_cache:
            identifier = (
                PatientIdentifier.objects.filter(hospital=sender.hospital, mrn=header.patient_id)
                .select_related("patient")
                .first()
            )
            sender.mrn_cache[header.patient_id] = identifier.patient if identifier else None
        by_mrn = sender.mrn_cache[header.patient_id]
    if sender.study_instance_uid and header.study_instance_uid != sender.study_instance_uid:
        raise IngestError(
            "wrong_study", _("The instance belongs to another study than the one in the URL.")
        )
    uid = header.study_instance_uid
    if uid not in sender.study_cache:
        sender.study_cache[uid] = Study.objects.filter(study_instance_uid=uid).first()
    study = sender.study_cache[uid]
    if study is not None and not _may_extend(study, sender):
        raise IngestError("other_hospital", _("This study belongs to another hospital's records."))
    if sender.patient is not None:
        if by_mrn is not None and by_mrn.pk != sender.patient.pk:
            raise IngestError(
                "other_child",
                _("The file's patient ID is the record number of another child."),
            )
        if study is not None and study.patient_id not in (None, sender.patient.pk):
            raise IngestError("other_child", _("This study is already filed under another child."))
        return sender.patient
    if study is not None and study.patient_id is not None:
        return study.patient
    return by_mrn


def _may_extend(study: Study, sender: Sender) -> bool:
    """Only the hospital that sent a study, or someone who may see it, adds to it."""
    if study.hospital_id == sender.hospital.pk:
        return True
    if sender.user is None:
        return False
    from viewer.selectors import studies_visible_to

    return studies_visible_to(sender.user).filter(pk=study.pk).exists()


def _duplicate(
    stored: storage.Stored, *, name: str, header: Header, existing: Instance, sender: Sender
) -> IngestResult:
    base = {
        "name": name,
        "sop_instance_uid": header.sop_instance_uid,
        "sop_class_uid": header.sop_class_uid,
        "study_instance_uid": header.study_instance_uid,
        "instance_id": existing.pk,
    }
    if stored.sha256 == existing.sha256:
        storage.delete_stored(stored.key)
        return IngestResult(status=Outcome.ALREADY_STORED, **base)
    _keep_conflict(stored, header=header, existing=existing, sender=sender)
    return IngestResult(
        status=Outcome.CONFLICT,
        code="conflict",
        reason=str(
            _("Different content was already stored under this SOP Instance UID; kept aside.")
        ),
        **base,
    )


def _keep_conflict(
    stored: storage.Stored, *, header: Header, existing: Instance, sender: Sender
) -> None:
    """The new bytes stay where they were written, indexed as a conflict (once per content)."""
    try:
        with transaction.atomic():
            IngestConflict.objects.create(
                sop_instance_uid=header.sop_instance_uid,
                study_instance_uid=header.study_instance_uid,
                existing=existing,
                size=stored.size,
                sha256=stored.sha256,
                storage_key=stored.key,
                source=sender.source,
                uploaded_by=sender.user,
                sending_hospital=sender.hospital,
            )
    except IntegrityError:
        storage.delete_stored(stored.key)


@transaction.atomic
def _index(
    header: Header, stored: storage.Stored, *, patient: Patient | None, sender: Sender
) -> Instance:
    study = _study_for(header, patient=patient, sender=sender)
    series = _series_for(header, study=study, sender=sender)
    instance = Instance.objects.create(**_instance_fields(header, stored, series, sender))
    sender.touched_studies.add(study.pk)
    sender.touched_series.add(series.pk)
    sender.new_instance_ids.append(instance.pk)
    return instance


def _series_for(header: Header, *, study: Study, sender: Sender) -> Series:
    series = sender.series_cache.get(header.series_instance_uid)
    if series is None:
        series, created = Series.objects.get_or_create(
            series_instance_uid=header.series_instance_uid,
            defaults={
                "study": study,
                "modality": header.modality,
                "body_part": header.body_part,
                "description": header.series_description,
                "series_number": header.series_number,
                "frame_of_reference_uid": header.frame_of_reference_uid,
            },
        )
        sender.series_cache[header.series_instance_uid] = series
        sender.new_series |= created
    return series


def _instance_fields(
    header: Header, stored: storage.Stored, series: Series, sender: Sender
) -> dict[str, Any]:
    return {
        "series": series,
        "sop_instance_uid": header.sop_instance_uid,
        "sop_class_uid": header.sop_class_uid,
        "instance_number": header.instance_number,
        "transfer_syntax_uid": header.transfer_syntax_uid,
        "rows": header.rows,
        "columns": header.columns,
        "number_of_frames": header.number_of_frames,
        "pixel_spacing": header.pixel_spacing,
        "size": stored.size,
        "sha256": stored.sha256,
        "storage_key": stored.key,
        "source": sender.source,
        "is_photo_of_film": sender.photo_of_film,
        "uploaded_by": sender.user,
        "sending_hospital": sender.hospital,
    }


def _study_for(header: Header, *, patient: Patient | None, sender: Sender) -> Study:
    study = sender.study_cache.get(header.study_instance_uid)
    if study is None:
        study, _created = Study.objects.get_or_create(
            study_instance_uid=header.study_instance_uid,
            defaults=_study_fields(header, patient=patient, hospital=sender.hospital),
        )
        sender.study_cache[header.study_instance_uid] = study
    if study.patient_id is None and patient is not None:
        Study.objects.filter(pk=study.pk, patient=None).update(patient=patient)
        study.patient = patient
    return study


def _study_fields(header: Header, *, patient: Patient | None, hospital: Hospital) -> dict:
    return {
        "patient": patient,
        "hospital": hospital,
        "patient_id_in_file": header.patient_id,
        "patient_name_in_file": header.patient_name,
        "study_date": header.study_date,
        "study_time": header.study_time,
        "description": header.study_description,
        "accession_number": header.accession_number,
        "institution_name": header.institution_name,
    }


def ingest_flush(*, sender: Sender) -> None:
    """Recount the touched series and studies from the instance table (so concurrent
    senders and crashes cannot leave counts wrong) and queue the render caches once."""
    if sender.pending:
        _index_pending(sender)
    if not sender.new_instance_ids:
        return
    ids, series_ids, study_ids = (
        list(sender.new_instance_ids), set(sender.touched_series), set(sender.touched_studies)
    )  # fmt: skip
    sender.new_instance_ids.clear()
    sender.touched_series.clear()
    sender.touched_studies.clear()
    new_series, sender.new_series = sender.new_series, False
    with transaction.atomic():
        _recount(series_ids, study_ids, photo=sender.photo_of_film, modalities=new_series)
        transaction.on_commit(lambda: build_render_caches.delay(ids))


def _index_pending(sender: Sender) -> None:
    """One INSERT for a batch's new instances; duplicates resolved as one by one would."""
    pending, sender.pending = sender.pending, []
    uids = [p.header.sop_instance_uid for p in pending]
    existing = {i.sop_instance_uid: i for i in Instance.objects.filter(sop_instance_uid__in=uids)}
    fresh: dict[str, Pending] = {}
    later: list[Pending] = []
    for item in pending:
        uid = item.header.sop_instance_uid
        if uid in existing or uid in fresh:
            later.append(item)  # compared once the first copy is indexed
        else:
            fresh[uid] = item
    try:
        rows = _insert_batch(list(fresh.values()), sender)
    except IntegrityError:
        # Another sender indexed one of these meanwhile: fall back to one at a time.
        sender.study_cache.clear()
        sender.series_cache.clear()
        rows = {}
        later = list(fresh.values()) + later
    existing.update(rows)
    for item in later:
        _settle_one(item, existing, sender)


@transaction.atomic
def _insert_batch(items: list[Pending], sender: Sender) -> dict[str, Instance]:
    objects = []
    for item in items:
        study = _study_for(item.header, patient=item.patient, sender=sender)
        series = _series_for(item.header, study=study, sender=sender)
        objects.append(Instance(**_instance_fields(item.header, item.stored, series, sender)))
        sender.touched_studies.add(study.pk)
        sender.touched_series.add(series.pk)
    Instance.objects.bulk_create(objects)
    for item, row in zip(items, objects, strict=True):
        item.result.instance_id = row.pk
        sender.new_instance_ids.append(row.pk)
    return {row.sop_instance_uid: row for row in objects}


def _settle_one(item: Pending, existing: dict[str, Instance], sender: Sender) -> None:
    """A batch member whose UID was already indexed (before or earlier in this batch), or
    one the bulk INSERT could not take: the single-instance path decides."""
    header, result = item.header, item.result
    row = existing.get(header.sop_instance_uid)
    if row is None:
        try:
            row = _index(header, item.stored, patient=item.patient, sender=sender)
        except IntegrityError:
            sender.study_cache.clear()
            sender.series_cache.clear()
            row = Instance.objects.get(sop_instance_uid=header.sop_instance_uid)
        else:
            result.instance_id = row.pk
            existing[header.sop_instance_uid] = row
            return
    verdict = _duplicate(item.stored, name=result.name, header=header, existing=row, sender=sender)
    result.status, result.code, result.reason = verdict.status, verdict.code, verdict.reason
    result.instance_id, result.series_instance_uid = row.pk, ""


def _recount(series_ids: set[int], study_ids: set[int], *, photo: bool, modalities: bool) -> None:
    """Two UPDATEs with subqueries; the modality list only when a series was created."""
    per_series = (
        Instance.objects.filter(series=OuterRef("pk"))
        .order_by()
        .values("series")
        .annotate(n=Count("*"))
        .values("n")
    )
    Series.objects.filter(pk__in=series_ids).update(
        number_of_instances=Coalesce(Subquery(per_series), 0)
    )
    study_instances = (
        Instance.objects.filter(series__study=OuterRef("pk"))
        .order_by()
        .values("series__study")
        .annotate(n=Count("*"))
        .values("n")
    )
    study_series = (
        Series.objects.filter(study=OuterRef("pk"))
        .order_by()
        .values("study")
        .annotate(n=Count("*"))
        .values("n")
    )
    updates: dict[str, Any] = {
        "number_of_instances": Coalesce(Subquery(study_instances), 0),
        "number_of_series": Coalesce(Subquery(study_series), 0),
    }
    if photo:
        updates["has_photo_of_film"] = True
    Study.objects.filter(pk__in=study_ids).update(**updates)
    if modalities:
        _relist_modalities(study_ids)


def _relist_modalities(study_ids: set[int]) -> None:
    found: dict[int, list[str]] = {pk: [] for pk in study_ids}
    for study_id, modality in (
        Series.objects.filter(study_id__in=study_ids)
        .order_by("id")
        .values_list("study_id", "modality")
    ):
        if modality and modality not in found[study_id]:
            found[study_id].append(modality)
    for study_id, names in found.items():
        Study.objects.filter(pk=study_id).update(modalities="\\".join(names)[:100])


# --- files and zips from the browser ------------------------------------------------


def upload_ingest(*, fp: IO[bytes], name: str, size: int, sender: Sender) -> list[IngestResult]:
    """One uploaded file: a DICOM file, or a zip whose members are each ingested.
    The caller calls `ingest_flush` after the last file of the request."""
    fp.seek(0)
    head = fp.read(4)
    fp.seek(0)
    if ingest.looks_like_zip(head) or name.lower().endswith(".zip"):
        return zip_ingest(fp=fp, name=name, sender=sender)
    return [instance_ingest(fp=fp, name=name, size=size, sender=sender, flush=False)]


def zip_ingest(*, fp: IO[bytes], name: str, sender: Sender) -> list[IngestResult]:
    limits = ingest_limits()
    try:
        archive = zipfile.ZipFile(fp)
        members = ingest.zip_members(archive, limits=limits)
    except IngestError as exc:
        return [_rejected(name, exc)]
    except (zipfile.BadZipFile, OSError, EOFError):
        return [rejected(name, "bad_zip", _("The zip file is damaged."))]
    results = []
    with archive:
        for member in members:
            label = f"{name}/{member.name}"
            if member.error is not None:
                results.append(_rejected(label, member.error))
                continue
            results.append(_zip_member_ingest(archive, member, label=label, sender=sender))
            if sender.backlog >= FLUSH_EVERY:
                ingest_flush(sender=sender)
    return results


def _zip_member_ingest(
    archive: zipfile.ZipFile, member: ingest.ZipMember, *, label: str, sender: Sender
) -> IngestResult:
    with tempfile.TemporaryFile() as spool:
        try:
            for block in ingest.iter_member_chunks(archive, member):
                spool.write(block)
        except IngestError as exc:
            return _rejected(label, exc)
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError):
            return _rejected(label, IngestError("bad_zip", _("The zip member is damaged.")))
        size = spool.tell()
        return instance_ingest(fp=spool, name=label, size=size, sender=sender, flush=False)


def _rejected(name: str, exc: IngestError) -> IngestResult:
    return IngestResult(name=name, status=Outcome.REJECTED, reason=str(exc), code=exc.code)


def rejected(name: str, code: str, reason: Any) -> IngestResult:
    return IngestResult(name=name, status=Outcome.REJECTED, reason=str(reason), code=code)


def record_upload_audit(
    *, request: Any, results: Iterable[IngestResult], patient: Patient | None
) -> None:
    """One audit row per child the upload filed images under (one without a child for
    rejected or unmatched files): what was accepted, out of how many."""
    results = list(results)
    by_child: dict[int | None, list[IngestResult]] = {}
    for result in results:
        key = patient.pk if patient is not None else result.patient_id
        by_child.setdefault(key, []).append(result)
    children = {p.pk: p for p in Patient.objects.filter(pk__in=[k for k in by_child if k])}
    for key, group in by_child.items():
        accepted = sum(r.status == Outcome.ACCEPTED for r in group)
        studies = sorted({r.study_instance_uid for r in group if r.study_instance_uid})
        audit_record(
            request=request,
            action=Action.CREATE,
            object_type="dicom_upload",
            object_id=",".join(studies)[:128],
            patient=children.get(key) if key else None,
            reason=f"accepted={accepted} total={len(group)}",
        )


# --- unmatched queue ------------------------------------------------------------------


@transaction.atomic
def study_assign_patient(*, study: Study, patient: Patient, user: User) -> Study:
    """File an unmatched study under a child. Only a study still unmatched moves."""
    updated = Study.objects.filter(pk=study.pk, patient=None).update(patient=patient)
    if not updated:
        raise IngestError("already_assigned", _("This study was already filed under a child."))
    audit_record(
        user=user,
        action=Action.UPDATE,
        obj=study,
        patient=patient,
        reason="assigned unmatched study",
    )
    study.refresh_from_db()
    return study


# --- ingest conflicts: review and resolution -------------------------------------------


def _conflict_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give a reason: it is recorded with the decision."))
    return reason[:500]


def _open_conflict_locked(conflict: IngestConflict) -> IngestConflict:
    row = IngestConflict.objects.select_for_update().get(pk=conflict.pk)
    if row.resolution:
        raise IngestError("already_resolved", _("Somebody already resolved this conflict."))
    return row


@transaction.atomic
def conflict_keep_stored(*, conflict: IngestConflict, user: User, reason: str) -> IngestConflict:
    """Keep the stored version: the new bytes are deleted (after commit), the row stays as
    the record of what arrived and who decided."""
    reason = _conflict_reason(reason)
    row = _open_conflict_locked(conflict)
    key = row.storage_key
    row.resolution = IngestConflict.Resolution.KEPT_STORED
    row.resolved_by, row.resolved_at, row.resolution_reason = user, now(), reason
    row.storage_key = None
    row.save(
        update_fields=[
            "resolution",
            "resolved_by",
            "resolved_at",
            "resolution_reason",
            "storage_key",
        ]
    )
    study = row.existing.series.study
    audit_record(
        user=user,
        action=Action.UPDATE,
        obj=row,
        patient=study.patient,
        reason=f"conflict: kept stored version, discarded new one: {reason}"[:300],
    )
    if key:
        transaction.on_commit(lambda: storage.delete_stored(key))
    return row


def may_replace(conflict: IngestConflict, user: User) -> bool:
    """Only the hospital that owns the study (or the alliance admin) replaces its images."""
    if user.role == Role.ADMIN:
        return True
    return (
        user.role == Role.REFERRING_DOCTOR
        and user.hospital_id is not None
        and conflict.existing.series.study.hospital_id == user.hospital_id
    )


@transaction.atomic
def conflict_replace(*, conflict: IngestConflict, user: User, reason: str) -> IngestConflict:
    """Serve the new version from now on. Nothing is lost: the instance takes the new key,
    size and hash, this row takes the superseded ones (still downloadable from the review
    page), and the audit trail names who replaced it and why.

    Refused when the new version names another study or series (that is a different
    mistake: discard it and send the file with correct UIDs)."""
    reason = _conflict_reason(reason)
    if not may_replace(conflict, user):
        raise PermissionDenied(_("Only the hospital that sent this study may replace its images."))
    row = _open_conflict_locked(conflict)
    instance = (
        Instance.objects.select_for_update().select_related("series__study").get(pk=row.existing_id)
    )
    with storage.open_stored(row.storage_key) as fp:
        header = ingest.parse_header(fp, size=row.size, limits=ingest_limits())
    series = instance.series
    if (header.study_instance_uid, header.series_instance_uid) != (
        series.study.study_instance_uid,
        series.series_instance_uid,
    ):
        raise IngestError(
            "other_series",
            _(
                "The new version names another study or series than the stored one; "
                "it cannot replace it."
            ),
        )
    old = (instance.storage_key, instance.size, instance.sha256)
    Instance.objects.filter(pk=instance.pk).update(
        storage_key=row.storage_key,
        size=row.size,
        sha256=row.sha256,
        sop_class_uid=header.sop_class_uid,
        instance_number=header.instance_number,
        transfer_syntax_uid=header.transfer_syntax_uid,
        rows=header.rows,
        columns=header.columns,
        number_of_frames=header.number_of_frames,
        pixel_spacing=header.pixel_spacing,
    )
    row.storage_key, row.size, row.sha256 = old
    row.resolution = IngestConflict.Resolution.REPLACED
    row.resolved_by, row.resolved_at, row.resolution_reason = user, now(), reason
    row.save()
    # What the viewer read from the old header is stale; the render cache is keyed by hash.
    RenderInfo.objects.filter(instance_id=instance.pk).delete()
    audit_record(
        user=user,
        action=Action.UPDATE,
        obj=instance,
        patient=series.study.patient,
        reason=f"conflict {row.pk}: replaced stored version (kept as superseded): {reason}"[:300],
    )
    transaction.on_commit(lambda: build_render_caches.delay([instance.pk]))
    return row


# --- integration tokens and DICOM nodes ----------------------------------------------


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def integration_token_create(
    *, hospital: Hospital, name: str, created_by: User
) -> tuple[IntegrationToken, str]:
    """A new token for a hospital's system; the secret is returned once and never stored."""
    secret = "pl_" + secrets.token_urlsafe(32)
    account = User.objects.create(
        username=f"integration-{hospital.code}-{secrets.token_hex(4)}"[:150],
        full_name=str(_("Integration: %(name)s") % {"name": name})[:100],
        role=Role.REFERRING_DOCTOR,
        hospital=hospital,
    )
    account.set_unusable_password()
    account.save(update_fields=["password"])
    token = IntegrationToken.objects.create(
        hospital=hospital,
        name=name,
        prefix=secret[:10],
        token_hash=token_digest(secret),
        account=account,
        created_by=created_by,
    )
    audit_record(user=created_by, action=Action.CREATE, obj=token)
    return token, secret


@transaction.atomic
def integration_token_revoke(*, token: IntegrationToken, user: User) -> None:
    if token.revoked_at is not None:
        return
    IntegrationToken.objects.filter(pk=token.pk).update(revoked_at=now())
    User.objects.filter(pk=token.account_id).update(is_active=False)
    audit_record(user=user, action=Action.UPDATE, obj=token, reason="revoked")


@transaction.atomic
def dicom_node_create(
    *, hospital: Hospital, ae_title: str, allowed_ips: str, description: str, user: User
) -> DicomNode:
    node = DicomNode(
        hospital=hospital,
        ae_title=ae_title.strip(),
        allowed_ips=allowed_ips.strip(),
        description=description,
    )
    node.full_clean()
    node.save()
    audit_record(user=user, action=Action.CREATE, obj=node)
    return node


@transaction.atomic
def dicom_node_deactivate(*, node: DicomNode, user: User) -> None:
    DicomNode.objects.filter(pk=node.pk).update(is_active=False)
    audit_record(user=user, action=Action.UPDATE, obj=node, reason="deactivated")


def dicom_node_for(ae_title: str, address: str) -> DicomNode | None:
    """The active node with this AE title whose allowed addresses include `address`."""
    node = (
        DicomNode.objects.filter(ae_title=ae_title.strip(), is_active=True)
        .select_related("hospital")
        .first()
    )
    return node if node is not None and node.allows(address) else None


SOURCE_LABELS = dict(Source.choices)


def measurement_create(
    *,
    request: HttpRequest,
    user: Any,
    instance: Instance,
    frame: int,
    kind: str,
    points: Any,
    note: str = "",
) -> Measurement:
    """Save a specialist's measurement; the value is computed here from the image's spacing."""
    if not can_save_measurements(user):
        raise PermissionDenied(_("Only specialists save measurements."))
    info = render_cache.render_info(instance).info
    rows, columns = (
        info.get("rows") or instance.rows or 0,
        info.get("columns") or instance.columns or 0,
    )
    frames = info.get("frames") or instance.number_of_frames or 1
    if not 1 <= frame <= frames:
        raise ValidationError(_("There is no such frame."))
    try:
        clean = measure.valid_points(kind, points, rows, columns)
    except (TypeError, ValueError) as exc:
        raise ValidationError(_("The measurement's points are not valid.")) from exc
    if kind == "arrow" and not note.strip():
        raise ValidationError(_("An arrow needs a note."))
    spacing, unit = measure.spacing_for(info.get("pixel_spacing"), info.get("imager_pixel_spacing"))
    try:
        value, unit = measure.measure(kind, clean, spacing, unit)
    except ValueError as exc:
        raise ValidationError(_("The angle's arms must have length.")) from exc
    study = instance.series.study
    with transaction.atomic():
        m = Measurement.objects.create(
            study=study,
            instance=instance,
            frame=frame,
            kind=kind,
            points=clean,
            value=value,
            unit=unit,
            note=note.strip()[:200],
            created_by=user,
        )
        audit_record(request=request, action=Action.CREATE, obj=m, patient=study.patient)
    return m


def measurement_delete(*, request: HttpRequest, user: Any, measurement: Measurement) -> None:
    """Remove one's own measurement (a signed report keeps its own copy of the values)."""
    if measurement.created_by_id != user.pk:
        raise PermissionDenied(_("Only the specialist who made a measurement removes it."))
    with transaction.atomic():
        audit_record(
            request=request,
            action=Action.UPDATE,
            obj=measurement,
            patient=measurement.study.patient,
            reason="measurement deleted",
        )
        measurement.delete()
