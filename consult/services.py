"""Every write to the alliance directory and children's records, in one place.

Views, the REST API and management commands call these with the actor and an `AuditContext`
(where the change came from; `core.audit.SYSTEM` for the system itself), never the request;
each runs in a transaction and leaves an audit row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from consult.models import (
    AllergyStatus,
    Department,
    Guardian,
    Hospital,
    OnCallShift,
    Patient,
    PatientIdentifier,
    Role,
    SpecialistSubspecialty,
    User,
    WeightRecord,
    allergy_errors,
)
from core.audit import Action, AuditContext, audit_record
from core.revocation import access_end

HOSPITAL_ROLES = {Role.REFERRING_DOCTOR, Role.SPECIALIST, Role.COORDINATOR}


def national_id_hash(raw: str) -> str:
    """Keyed HMAC-SHA256 of a normalised national/insurance ID (spaces removed, upper case).

    The clear value is never stored; equal IDs at different hospitals give equal hashes.
    """
    normalised = re.sub(r"\s+", "", raw).upper()
    key = settings.PATIENT_ID_HMAC_KEY.encode()
    return hmac.new(key, normalised.encode(), hashlib.sha256).hexdigest()


class DuplicateMRN(ValidationError):
    """The hospital already has a child with this MRN; `patient` is that child."""

    def __init__(self, patient: Patient) -> None:
        super().__init__(
            _("This MRN is already registered at your hospital."), code="duplicate_mrn"
        )
        self.patient = patient


@transaction.atomic
def patient_register(
    *,
    actor: User,
    hospital: Hospital,
    name: str,
    sex: str,
    birth_date: dt.date,
    mrn: str,
    weight_kg: Decimal | None = None,
    weighed_on: dt.date | None = None,
    national_id: str = "",
    allergy_status: str = AllergyStatus.NOT_RECORDED,
    allergies: str = "",
    guardians: Iterable[dict[str, str]] = (),
    context: AuditContext,
) -> Patient:
    """Register a child at `hospital` with its MRN, first weight and guardians.

    Allergies are three states (`AllergyStatus`): a list needs `allergies`, "not recorded"
    and "no known allergies" must come without one."""
    mrn = mrn.strip()
    allergies = allergies.strip()
    if errors := allergy_errors(allergy_status, allergies):
        raise ValidationError(errors)
    existing = PatientIdentifier.objects.filter(hospital=hospital, mrn=mrn).select_related(
        "patient"
    )
    if (found := existing.first()) is not None:
        raise DuplicateMRN(found.patient)
    if birth_date > timezone.localdate():
        raise ValidationError({"birth_date": _("The date of birth cannot be in the future.")})
    patient = Patient.objects.create(
        name=name.strip(),
        sex=sex,
        birth_date=birth_date,
        home_hospital=hospital,
        allergy_status=allergy_status,
        allergies=allergies,
        national_id_hash=national_id_hash(national_id) if national_id.strip() else "",
        created_by=actor,
    )
    PatientIdentifier.objects.create(patient=patient, hospital=hospital, mrn=mrn)
    if weight_kg is not None:
        patient_record_weight(
            patient=patient, weight_kg=weight_kg, measured_on=weighed_on or timezone.localdate()
        )
    for guardian in guardians:
        guardian_obj = Guardian(patient=patient, **guardian)
        guardian_obj.full_clean()
        guardian_obj.save()
    audit_record(context=context, user=actor, action=Action.CREATE, obj=patient)
    return patient


def patient_record_weight(
    *, patient: Patient, weight_kg: Decimal, measured_on: dt.date
) -> WeightRecord:
    record = WeightRecord(patient=patient, weight_kg=weight_kg, measured_on=measured_on)
    record.full_clean()
    record.save()
    return record


@transaction.atomic
def patient_update(
    *,
    actor: User,
    patient: Patient,
    fields: dict[str, Any],
    guardians: Iterable[dict[str, str]] | None = None,
    context: AuditContext,
) -> Patient:
    """Update a child's demographics (and replace its guardians when given)."""
    national_id = fields.pop("national_id", "")
    for name, value in fields.items():
        setattr(patient, name, value)
    if national_id.strip():
        patient.national_id_hash = national_id_hash(national_id)
    patient.full_clean()
    patient.save()
    if guardians is not None:
        guardians_replace(patient=patient, guardians=guardians)
    audit_record(context=context, user=actor, action=Action.UPDATE, obj=patient)
    return patient


def guardians_replace(*, patient: Patient, guardians: Iterable[dict[str, Any]]) -> None:
    """Make the child's guardians exactly `guardians`: rows with an `id` are updated in place
    (so what refers to a guardian keeps referring to them), others created, the rest removed."""
    kept: list[int] = []
    existing = {g.pk: g for g in patient.guardians.all()}
    for row in guardians:
        row = dict(row)
        pk = row.pop("id", None)
        guardian = existing.get(getattr(pk, "pk", pk)) or Guardian(patient=patient)
        for key, value in row.items():
            setattr(guardian, key, value)
        guardian.full_clean()
        guardian.save()
        kept.append(guardian.pk)
    patient.guardians.exclude(pk__in=kept).delete()


@transaction.atomic
def guardian_add(
    *,
    actor: User,
    patient: Patient,
    name: str,
    relation: str,
    mobile: str,
    context: AuditContext,
) -> Guardian:
    guardian = Guardian(patient=patient, name=name, relation=relation, mobile=mobile)
    guardian.full_clean()
    guardian.save()
    audit_record(
        context=context, user=actor, action=Action.UPDATE, obj=patient, reason="guardian added"
    )
    return guardian


def _audited_save(obj: Any, *, actor: User, created: bool, context: AuditContext) -> Any:
    obj.full_clean()
    obj.save()
    action = Action.CREATE if created else Action.UPDATE
    audit_record(context=context, user=actor, action=action, obj=obj)
    return obj


@transaction.atomic
def directory_save(*, actor: User, obj: Any, context: AuditContext) -> Any:
    """Create or update a hospital, department or shift, with its audit row. A department's
    head reads its referrals: a new head ends both heads' remembered access answers."""
    head_before = None
    if isinstance(obj, Department) and obj.pk is not None:
        head_before = Department.objects.filter(pk=obj.pk).values_list("head_id", flat=True)[0]
    saved = _audited_save(obj, actor=actor, created=obj.pk is None, context=context)
    if isinstance(obj, Department) and head_before != obj.head_id:
        for user_id in {head_before, obj.head_id} - {None}:
            access_end(user_id=user_id, signed_out=False)
    return saved


def user_check_hospital(*, role: str, hospital: Hospital | None) -> None:
    if role in HOSPITAL_ROLES and hospital is None:
        raise ValidationError({"hospital": _("A user with this role must belong to a hospital.")})
    if hospital is not None and not hospital.is_active and role in HOSPITAL_ROLES:
        raise ValidationError({"hospital": _("This hospital is inactive.")})


@transaction.atomic
def user_save(
    *,
    actor: User,
    user: User,
    password: str | None = None,
    subspecialties: Iterable[str] | None = None,
    context: AuditContext,
) -> User:
    """Create or update a user. Deactivating one ends their open sessions; a change of what
    they may see (hospital, role, department, subspecialties, password, active flag) ends
    their remembered access answers and closes their sockets at once."""
    created = user.pk is None
    before = None if created else _access_facts(user.pk)
    user_check_hospital(role=user.role, hospital=user.hospital)
    if password:
        user.set_password(password)
    elif created:
        user.set_unusable_password()
    _audited_save(user, actor=actor, created=created, context=context)
    if subspecialties is not None:
        wanted = set(subspecialties) if user.role == Role.SPECIALIST else set()
        SpecialistSubspecialty.objects.filter(specialist=user).exclude(
            subspecialty__in=wanted
        ).delete()
        for code in wanted:
            SpecialistSubspecialty.objects.get_or_create(specialist=user, subspecialty=code)
    if before is not None and before["is_active"] and not user.is_active:
        user_end_sessions(user_id=user.pk)
    if before is not None and before != _access_facts(user.pk):
        signed_out = not user.is_active or before["password"] != user.password
        access_end(user_id=user.pk, signed_out=signed_out)
    return user


def _access_facts(user_id: int) -> dict[str, Any]:
    """What a user's access and sessions depend on, as stored."""
    facts: dict[str, Any] = dict(
        User.objects.filter(pk=user_id).values(
            "role", "hospital_id", "department_id", "is_active", "password"
        )[0]
    )
    facts["subspecialties"] = set(
        SpecialistSubspecialty.objects.filter(specialist_id=user_id).values_list(
            "subspecialty", flat=True
        )
    )
    return facts


def user_end_sessions(*, user_id: int) -> int:
    """Delete every session of a user. Sessions hold the user id only inside their data,
    so the unexpired ones are decoded; deactivation is rare, this is not on a hot path."""
    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user_id):
            session.delete()
            ended += 1
    return ended


@transaction.atomic
def shift_delete(*, actor: User, shift: OnCallShift, context: AuditContext) -> None:
    audit_record(
        context=context, user=actor, action=Action.UPDATE, obj=shift, reason="deleted on-call shift"
    )
    shift.delete()
