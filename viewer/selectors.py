"""Reads of imaging data with the access rule built in (pages, API and DICOMweb alike)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from consult.models import Consultation, Role
from consult.selectors import consultations_visible_to, patients_visible_to
from viewer.models import Instance, Series, Study


def studies_visible_to(user: Any) -> QuerySet[Study]:
    """Studies a user may see: those their hospital sent (matched or still unmatched), and
    those of children they may see (which later workflows widen)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Study.objects.none()
    if user.role == Role.ADMIN:
        return Study.objects.all()
    rule = Q(patient__in=patients_visible_to(user)) | Q(
        pk__in=Consultation.studies.through.objects.filter(
            consultation__in=consultations_visible_to(user)
        ).values("study_id")
    )
    if user.role == Role.REFERRING_DOCTOR and user.hospital_id:
        rule |= Q(hospital_id=user.hospital_id)
    # Studies attached to a referral, for the receiving department while it is shared.
    from referrals.models import Referral
    from referrals.selectors import referrals_sharing_with

    rule |= Q(
        pk__in=Referral.studies.through.objects.filter(
            referral__in=referrals_sharing_with(user)
        ).values("study_id")
    )
    return Study.objects.filter(rule)


def series_visible_to(user: Any) -> QuerySet[Series]:
    return Series.objects.filter(study__in=studies_visible_to(user))


def instances_visible_to(user: Any) -> QuerySet[Instance]:
    return Instance.objects.filter(series__study__in=studies_visible_to(user))


def studies_for_patient(user: Any, patient: Any) -> QuerySet[Study]:
    """A child's studies the user may see, newest first, for the child's page."""
    return (
        studies_visible_to(user)
        .filter(patient=patient)
        .select_related("hospital")
        .order_by("-study_date", "-created_at")
    )


def unmatched_studies_for(user: Any) -> QuerySet[Study]:
    """Studies the user's hospital sent that no child is matched to yet."""
    if not getattr(user, "is_authenticated", False) or not user.hospital_id:
        return Study.objects.none()
    return (
        studies_visible_to(user)
        .filter(patient=None, hospital_id=user.hospital_id)
        .order_by("-created_at")
    )


def get_study_for(request: Any, uid: str) -> Study:
    """A study by UID if the user may see it; else a denied audit row and 404."""
    from django.http import Http404

    from core.audit import audit_denied

    study = studies_visible_to(request.user).filter(study_instance_uid=uid).first()
    if study is None:
        audit_denied(request, object_type="study", object_id=uid[:128])
        raise Http404
    return study


def conflicts_visible_to(user: Any) -> QuerySet:
    """Ingest conflicts a user may review: the alliance admin all of them; a referring
    doctor those their hospital sent, about a stored instance they may see."""
    from viewer.models import IngestConflict

    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return IngestConflict.objects.none()
    qs = IngestConflict.objects.select_related(
        "existing__series__study__patient", "sending_hospital", "uploaded_by", "resolved_by"
    )
    if user.role == Role.ADMIN:
        return qs
    if user.role != Role.REFERRING_DOCTOR or not user.hospital_id:
        return IngestConflict.objects.none()
    return qs.filter(
        sending_hospital_id=user.hospital_id,
        existing__series__study__in=studies_visible_to(user),
    )


def open_conflicts_for(user: Any) -> QuerySet:
    return conflicts_visible_to(user).filter(resolution="")
