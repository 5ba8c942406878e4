"""Reads with the access rule built in. Every page, API and DICOMweb endpoint uses these."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db import models
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest

from consult.models import (
    Consultation,
    ConsultationAssignment,
    Hospital,
    Patient,
    PatientIdentifier,
    Role,
    SpecialistSubspecialty,
    Status,
    User,
)
from core.audit import Action, audit_denied, audit_record
from core.models import AuditEvent

M = TypeVar("M", bound=models.Model)


def patients_visible_to(user: Any) -> QuerySet[Patient]:
    """Children a user may see.

    Referring doctors: children registered at, or with an MRN at, their hospital.
    Alliance admins: all. Specialists and coordinators: what a consultation shares with
    them. Receiving departments and coordinators: children of referrals shared with them.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Patient.objects.none()
    if user.role == Role.ADMIN:
        return Patient.objects.all()
    rule = Q(pk__in=[])
    if user.role == Role.REFERRING_DOCTOR and user.hospital_id:
        rule |= Q(home_hospital_id=user.hospital_id) | Q(
            pk__in=PatientIdentifier.objects.filter(hospital_id=user.hospital_id).values(
                "patient_id"
            )
        )
    if user.role in (Role.SPECIALIST, Role.COORDINATOR):
        rule |= Q(pk__in=consultations_visible_to(user).values("patient_id"))
    # Green-channel referrals (issue 6): the receiving department sees the child while the
    # referral is open and 30 days after; coordinators see every referred child.
    from referrals.selectors import referrals_sharing_with

    rule |= Q(pk__in=referrals_sharing_with(user).values("patient_id"))
    return Patient.objects.filter(rule)


def consultations_visible_to(user: Any) -> QuerySet[Consultation]:
    """Consultations a user may open.

    Referring doctors: their hospital's. Specialists: assigned to them now or before, and
    the unassigned queue of their subspecialties. Coordinators: all but drafts. Others: none.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return Consultation.objects.none()
    if user.role == Role.REFERRING_DOCTOR and user.hospital_id:
        return Consultation.objects.filter(hospital_id=user.hospital_id)
    if user.role == Role.COORDINATOR:
        return Consultation.objects.exclude(status=Status.DRAFT)
    if user.role == Role.SPECIALIST:
        mine = SpecialistSubspecialty.objects.filter(specialist=user).values("subspecialty")
        return Consultation.objects.filter(
            Q(assigned_to=user)
            | Q(
                pk__in=ConsultationAssignment.objects.filter(specialist=user).values(
                    "consultation_id"
                )
            )
            | Q(status=Status.SUBMITTED, assigned_to__isnull=True, subspecialty__in=mine)
        )
    return Consultation.objects.none()


def hospitals_visible_to(user: Any) -> QuerySet[Hospital]:
    """The alliance directory is public to every signed-in member."""
    if not getattr(user, "is_authenticated", False):
        return Hospital.objects.none()
    return Hospital.objects.all()


def users_visible_to(user: Any) -> QuerySet[User]:
    if getattr(user, "role", None) == Role.ADMIN:
        return User.objects.all()
    return User.objects.none()


def audit_events_visible_to(user: Any) -> QuerySet[AuditEvent]:
    if getattr(user, "role", None) == Role.ADMIN:
        return AuditEvent.objects.all()
    return AuditEvent.objects.none()


def get_visible_or_404(
    request: HttpRequest, queryset: QuerySet[M], *, pk: Any, object_type: str
) -> M:
    """The object if `queryset` (already access-filtered) holds it; else a denied row and 404."""
    try:
        return queryset.get(pk=pk)
    # django-stubs cannot see `DoesNotExist` on a model class given as a type variable.
    except (queryset.model.DoesNotExist, ValueError, TypeError):  # type: ignore[attr-defined]
        audit_denied(request, object_type=object_type, object_id=str(pk)[:128])
        raise Http404 from None


def get_patient_for(request: HttpRequest, pk: Any, *, audit: bool = True) -> Patient:
    """A child the requesting user may see, with a view audit row; 404 and a denied row if not."""
    patient = get_visible_or_404(
        request, patients_visible_to(request.user), pk=pk, object_type="patient"
    )
    if audit:
        audit_record(request=request, action=Action.VIEW, obj=patient)
    return patient
