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
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from consult.audit import Action, audit_record
from consult.models import Hospital, Patient, PatientIdentifier, Role, User
from viewer import ingest, storage
from viewer.ingest import Header, IngestError, Limits
from viewer.models import (
    DicomNode,
    IngestConflict,
    Instance,
    IntegrationToken,
    Series,
    Source,
    Study,
)
from viewer.tasks import build_render_caches

log = logging.getLogger(__name__)


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
class Sender:
    """Who is sending: the hospital, the person (none for C-STORE), the way in, and the child
    the upload is for (browser and photos) if chosen."""

    hospital: Hospital
    source: str
    user: User | None = None
    patient: Patient | None = None
    study_instance_uid: str = ""  # STOW-RS /studies/{study}: every instance must belong to it
    photo_of_film: bool = False
    new_instance_ids: list[int] = field(default_factory=list)


def ingest_limits() -> Limits:
    return Limits(
        max_file_bytes=settings.IMAGING_MAX_FILE_BYTES,
        max_pixel_bytes=settings.IMAGING_MAX_PIXEL_BYTES,
        max_zip_members=settings.IMAGING_MAX_ZIP_MEMBERS,
        max_zip_bytes=settings.IMAGING_MAX_ZIP_BYTES,
        max_sequence_depth=settings.IMAGING_MAX_SEQUENCE_DEPTH,
        parse_seconds=settings.IMAGING_PARSE_SECONDS,
    )


def instance_ingest(*, fp: IO[bytes], name: str, size: int, sender: Sender) -> IngestResult:
    """Ingest one PS3.10 file: validate, parse the header, dedupe, store, index.

    Never raises for bad input: the result says accepted / already stored / conflict /
    rejected with a reason. Render caches are queued after the commit.
    """
    try:
        header = ingest.parse_header(fp, size=size, limits=ingest_limits())
        patient = _match_patient(header, sender)
    except IngestError as exc:
        return IngestResult(name=name, status=Outcome.REJECTED, reason=str(exc), code=exc.code)
    existing = Instance.objects.filter(sop_instance_uid=header.sop_instance_uid).first()
    if existing is not None:
        return _duplicate(fp, name=name, header=header, existing=existing, sender=sender)
    stored = storage.store_file(fp, add_preamble=not header.has_preamble)
    try:
        instance = _index(header, stored, patient=patient, sender=sender)
    except IntegrityError:
        # Another sender indexed the same SOP Instance UID between our check and insert.
        storage.delete_stored(stored.key)
        existing = Instance.objects.get(sop_instance_uid=header.sop_instance_uid)
        return _duplicate(fp, name=name, header=header, existing=existing, sender=sender)
    return IngestResult(
        name=name,
        status=Outcome.ACCEPTED,
        sop_instance_uid=header.sop_instance_uid,
        sop_class_uid=header.sop_class_uid,
        study_instance_uid=header.study_instance_uid,
        instance_id=instance.pk,
        patient_id=patient.pk if patient else None,
    )


def _match_patient(header: Header, sender: Sender) -> Patient | None:
    """The chosen child, else the child whose MRN at the sending hospital is the PatientID."""
    by_mrn = None
    if header.patient_id:
        identifier = (
            PatientIdentifier.objects.filter(hospital=sender.hospital, mrn=header.patient_id)
            .select_related("patient")
            .first()
        )
        by_mrn = identifier.patient if identifier else None
    if sender.study_instance_uid and header.study_instance_uid != sender.study_instance_uid:
        raise IngestError(
            "wrong_study", _("The instance belongs to another study than the one in the URL.")
        )
    study = Study.objects.filter(study_instance_uid=header.study_instance_uid).first()
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
    fp: IO[bytes], *, name: str, header: Header, existing: Instance, sender: Sender
) -> IngestResult:
    sha = storage.hash_zeroed(fp, add_preamble=not header.has_preamble)
    base = {
        "name": name,
        "sop_instance_uid": header.sop_instance_uid,
        "sop_class_uid": header.sop_class_uid,
        "study_instance_uid": header.study_instance_uid,
        "instance_id": existing.pk,
    }
    if sha == existing.sha256:
        return IngestResult(status=Outcome.ALREADY_STORED, **base)
    _keep_conflict(fp, header=header, existing=existing, sender=sender, sha=sha)
    return IngestResult(
        status=Outcome.CONFLICT,
        code="conflict",
        reason=str(
            _("Different content was already stored under this SOP Instance UID; kept aside.")
        ),
        **base,
    )


def _keep_conflict(
    fp: IO[bytes], *, header: Header, existing: Instance, sender: Sender, sha: str
) -> None:
    if IngestConflict.objects.filter(sop_instance_uid=existing.sop_instance_uid, sha256=sha):
        return
    stored = storage.store_file(fp, prefix="conflicts", add_preamble=not header.has_preamble)
    try:
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
    study, study_created = Study.objects.get_or_create(
        study_instance_uid=header.study_instance_uid,
        defaults=_study_fields(header, patient=patient, hospital=sender.hospital),
    )
    if not study_created and study.patient_id is None and patient is not None:
        Study.objects.filter(pk=study.pk, patient=None).update(patient=patient)
    series, series_created = Series.objects.get_or_create(
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
    with transaction.atomic():
        instance = Instance.objects.create(
            series=series,
            sop_instance_uid=header.sop_instance_uid,
            sop_class_uid=header.sop_class_uid,
            instance_number=header.instance_number,
            transfer_syntax_uid=header.transfer_syntax_uid,
            rows=header.rows,
            columns=header.columns,
            number_of_frames=header.number_of_frames,
            pixel_spacing=header.pixel_spacing,
            size=stored.size,
            sha256=stored.sha256,
            storage_key=stored.key,
            source=sender.source,
            is_photo_of_film=sender.photo_of_film,
            uploaded_by=sender.user,
            sending_hospital=sender.hospital,
        )
    Series.objects.filter(pk=series.pk).update(number_of_instances=F("number_of_instances") + 1)
    _count_study(study, series_created=series_created, header=header, sender=sender)
    ids = [instance.pk]
    transaction.on_commit(lambda: build_render_caches.delay(ids))
    return instance


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


def _count_study(study: Study, *, series_created: bool, header: Header, sender: Sender) -> None:
    updates: dict[str, Any] = {"number_of_instances": F("number_of_instances") + 1}
    if sender.photo_of_film:
        updates["has_photo_of_film"] = True
    if series_created:
        updates["number_of_series"] = F("number_of_series") + 1
        study = Study.objects.select_for_update().get(pk=study.pk)
        modalities = [m for m in study.modalities.split("\\") if m]
        if header.modality and header.modality not in modalities:
            updates["modalities"] = "\\".join([*modalities, header.modality])[:100]
    Study.objects.filter(pk=study.pk).update(**updates)


# --- files and zips from the browser ------------------------------------------------


def upload_ingest(*, fp: IO[bytes], name: str, size: int, sender: Sender) -> list[IngestResult]:
    """One uploaded file: a DICOM file, or a zip whose members are each ingested."""
    fp.seek(0)
    head = fp.read(4)
    fp.seek(0)
    if ingest.looks_like_zip(head) or name.lower().endswith(".zip"):
        return zip_ingest(fp=fp, name=name, sender=sender)
    return [instance_ingest(fp=fp, name=name, size=size, sender=sender)]


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
        return instance_ingest(fp=spool, name=label, size=size, sender=sender)


def _rejected(name: str, exc: IngestError) -> IngestResult:
    return IngestResult(name=name, status=Outcome.REJECTED, reason=str(exc), code=exc.code)


def rejected(name: str, code: str, reason: Any) -> IngestResult:
    return IngestResult(name=name, status=Outcome.REJECTED, reason=str(reason), code=code)


def record_upload_audit(
    *, request: Any, results: Iterable[IngestResult], patient: Patient | None
) -> None:
    """One audit row per upload request: what was accepted, for which child."""
    results = list(results)
    accepted = sum(r.status == Outcome.ACCEPTED for r in results)
    audit_record(
        request=request,
        action=Action.CREATE,
        object_type="dicom_upload",
        object_id=",".join(sorted({r.study_instance_uid for r in results if r.study_instance_uid}))[
            :128
        ],
        patient=patient,
        reason=f"accepted={accepted} total={len(results)}",
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
