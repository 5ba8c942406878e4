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
