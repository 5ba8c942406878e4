"""Referral services: every write to a referral goes through here.

Each action is one function named `referral_<verb>` that takes the `actor` and an
`AuditContext` (core.audit; pages and the API pass `AuditContext.from_request(request)`),
checks who may act and what was given, and then in one transaction changes the row through
`referral_transition` (the only function that changes a referral's status, STYLE.md "State
machines"), writes its event row, its audit row and its notices, and schedules the pushes to
open pages after commit.

Who acts for a receiving department is `referrals.selectors.acts_for_department`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils.timezone import now
from django.utils.translation import gettext as _

from consult.models import Consultation, Department, Hospital, Patient, Role, User
from consult.models import Status as ConsultationStatus
from core.audit import Action, AuditContext, audit_record
from core.notify import alliance_language
from core.realtime import COORDINATORS, object_group, push_after_commit, user_group
from core.transitions import ActorNotAllowed, Rule, TransitionNotAllowed, action_check
from referrals import notices
from referrals.deadlines import deadline_fields, deadline_store, referral_policies
from referrals.models import (
    ACTIONS,
    DEADLINE_STATUSES,
    TRANSITIONS,
    Actor,
    DeclineReason,
    Referral,
    ReferralEvent,
    ReferralPolicy,
    Status,
    Transport,
    Urgency,
)
from referrals.selectors import acts_for_department, is_source_side, latest_signed_report


class ReferralError(Exception):
    """A refused action; the message is shown to the user as is."""


class ReferralNotAllowed(TransitionNotAllowed, ReferralError):
    """Not from the referral's current state (or somebody moved it first): HTTP 409."""


class ReferralActorNotAllowed(ActorNotAllowed, ReferralNotAllowed):
    """Not for this person: HTTP 403."""


# --- who may act ------------------------------------------------------------------------


def referral_actors(user: Any, referral: Referral) -> set[str]:
    """Who `user` is for this referral, in the names of the ACTIONS table."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    actors = set()
    if acts_for_department(user, referral.receiving_department):
        actors.add(Actor.DEPARTMENT)
    if is_source_side(user, referral):
        actors.add(Actor.SOURCE)
    if user.role == Role.COORDINATOR:
        actors.add(Actor.COORDINATOR)
    return actors


def referral_allowed(action: str, *, referral: Referral, user: User) -> Rule:
    """The ACTIONS rule for `action` on this referral by `user`, or ReferralNotAllowed (the
    state) / ReferralActorNotAllowed (the person) with the reason. Every service that acts on
    a referral calls it before it writes anything."""
    return action_check(
        ACTIONS,
        action,
        state=referral.status,
        state_label=str(Status(referral.status).label),
        actors=referral_actors(user, referral),
        refusal=_("This referral is “%(state)s”; in this state you cannot %(action)s."),
        state_error=ReferralNotAllowed,
        actor_error=ReferralActorNotAllowed,
    )


def _audit_change(
    referral: Referral, *, actor: User, context: AuditContext, action: str, done: str = ""
) -> None:
    """The audit row of a change, written in the change's transaction."""
    audit_record(
        action=action,
        user=actor,
        context=context,
        obj=referral,
        patient=referral.patient,
        reason=done,
    )


# --- the transition function ---------------------------------------------------------------


def referral_groups(referral: Referral, *departments: Department | None) -> list[str]:
    """Every websocket group whose page shows this referral."""
    groups = [
        object_group("referral", referral.pk),
        object_group("hospital", referral.source_hospital_id),
        COORDINATORS,
    ]
    for department in (referral.receiving_department, *departments):
        if department is not None:
            groups.append(object_group("department", department.pk))
            if department.head_id:
                groups.append(user_group(department.head_id))
    return groups


def referral_transition(
    *,
    referral: Referral,
    to: str,
    actor: User | None,
    reason: str = "",
    changes: dict[str, Any] | None = None,
    decline_reason: str = "",
) -> Referral:
    """Move a referral to `to` if the table allows it and nobody moved it first.

    Starts a new deadline phase on request and on acceptance, stamps the times, records the
    event row and pushes the change to open pages after commit. The action services call it
    inside their transaction and write the audit row.
    """
    old = referral.status
    if to not in TRANSITIONS[old]:
        raise ReferralNotAllowed(
            _("This referral is “%(old)s”; it cannot become “%(new)s”.")
            % {"old": Status(old).label, "new": Status(to).label}
        )
    at = now()
    previous_department = referral.receiving_department
    fields: dict[str, Any] = {"status": to, "updated_at": at, **(changes or {})}
    if to in DEADLINE_STATUSES and old != to:
        # F(): an in-memory copy may be stale, and a round number must never be reused.
        fields.update(phase_started_at=at, deadline_stage=0, deadline_round=F("deadline_round") + 1)
    stamps: dict[str, str] = {
        Status.ACCEPTED: "accepted_at",
        Status.SCHEDULED: "scheduled_at",
        Status.ARRIVED: "arrived_at",
        Status.COMPLETED: "closed_at",
        Status.CANCELLED: "closed_at",
    }
    if to in stamps:
        fields[stamps[to]] = at
    with transaction.atomic():
        if not Referral.objects.filter(pk=referral.pk, status=old).update(**fields):
            raise ReferralNotAllowed(_moved_meanwhile(referral, to))
        for field, value in fields.items():
            setattr(referral, field, value)
        referral.refresh_from_db(fields=["deadline_round"])
        deadline_store(referral)
        ReferralEvent.objects.create(
            referral=referral,
            at=at,
            actor=actor,
            from_status=old,
            to_status=to,
            reason=reason[:500],
            decline_reason=decline_reason,
            department=referral.receiving_department,
        )
        push_after_commit(
            referral_groups(referral, previous_department), "referral", id=referral.pk, status=to
        )
    return referral


def _moved_meanwhile(referral: Referral, to: str) -> str:
    current = Referral.objects.select_related("accepted_by").get(pk=referral.pk)
    if to == Status.ACCEPTED and current.status == Status.ACCEPTED:
        return _("%(who)s accepted this referral a moment before you; nothing more to do.") % {
            "who": current.accepted_by
        }
    return _("Somebody else changed this referral a moment ago. Reload the page and try again.")


# --- creating ------------------------------------------------------------------------------


def _check_destination(department: Department | None) -> Department:
    if department is None:
        raise ReferralError(_("Choose the receiving department."))
    if not department.hospital.is_active:
        raise ReferralError(
            _("%(hospital)s is not an active member of the alliance; choose another hospital.")
            % {"hospital": department.hospital.name}
        )
    if not department.is_active or not department.accepts_referrals:
        raise ReferralError(
            _("%(department)s does not accept referrals; choose another department.")
            % {"department": department.name}
        )
    return department


def referral_create(
    *,
    actor: User,
    context: AuditContext,
    department: Department | None,
    urgency: str,
    reason: str,
    consultation: Consultation | None = None,
    patient: Patient | None = None,
    source_hospital: Hospital | None = None,
) -> Referral:
    """Request a transfer: from a consultation (its referring doctor or a coordinator), or
    opened directly by a coordinator for a child. The consultation's latest signed report
    and its studies are attached."""
    if urgency not in Urgency.values:
        raise ReferralError(_("Choose the urgency."))
    if not reason.strip():
        raise ReferralError(_("Give the clinical reason for the transfer."))
    if consultation is not None:
        allowed = actor.role == Role.COORDINATOR or (
            actor.role == Role.REFERRING_DOCTOR and actor.hospital_id == consultation.hospital_id
        )
        if not allowed:
            raise ReferralError(
                _("Only the referring hospital or a coordinator can request a transfer.")
            )
        if consultation.status in (ConsultationStatus.DRAFT, ConsultationStatus.CANCELLED):
            raise ReferralError(_("A draft or cancelled consultation cannot be transferred."))
        patient = consultation.patient
        source_hospital = consultation.hospital
    elif actor.role != Role.COORDINATOR:
        raise ReferralError(_("Only a coordinator can open a referral without a consultation."))
    if patient is None:
        raise ReferralError(_("Choose the child."))
    source_hospital = source_hospital or patient.home_hospital
    department = _check_destination(department)
    if department.hospital_id == source_hospital.pk:
        raise ReferralError(_("The receiving hospital is the child's own hospital."))
    with transaction.atomic(), alliance_language():
        referral = _referral_insert(
            actor, consultation, patient, source_hospital, department, urgency, reason
        )
        notices.requested_notice(
            referral, [*notices.department_people(department), *notices.coordinators()]
        )
        _audit_change(referral, actor=actor, context=context, action=Action.CREATE)
    return referral


def _referral_insert(
    user: User,
    consultation: Consultation | None,
    patient: Patient,
    source_hospital: Hospital,
    department: Department,
    urgency: str,
    reason: str,
) -> Referral:
    report = None
    source_doctor = user if user.role == Role.REFERRING_DOCTOR else None
    if consultation is not None:
        source_doctor = consultation.requested_by
        report = latest_signed_report(consultation)
    at = now()
    referral = Referral.objects.create(
        patient=patient,
        consultation=consultation,
        report=report,
        source_hospital=source_hospital,
        source_doctor=source_doctor,
        requested_by=user,
        receiving_hospital=department.hospital,
        receiving_department=department,
        urgency=urgency,
        reason=reason,
        requested_at=at,
        phase_started_at=at,
        deadline_round=1,
    )
    if consultation is not None:
        referral.studies.set(consultation.studies.all())
    deadline_store(referral)
    ReferralEvent.objects.create(
        referral=referral,
        at=at,
        actor=user,
        to_status=Status.REQUESTED,
        reason=reason[:500],
        department=department,
    )
    push_after_commit(referral_groups(referral), "referral", id=referral.pk, status="requested")
    return referral


# --- the receiving department's answers ------------------------------------------------------


def referral_accept(*, referral: Referral, actor: User, context: AuditContext) -> Referral:
    """The receiving department takes the child. Of two people accepting at once, one wins."""
    if referral.status == Status.ACCEPTED and acts_for_department(
        actor, referral.receiving_department
    ):
        raise ReferralNotAllowed(_moved_meanwhile(referral, Status.ACCEPTED), "accept")
    referral_allowed("accept", referral=referral, user=actor)
    with transaction.atomic(), alliance_language():
        referral_transition(
            referral=referral, to=Status.ACCEPTED, actor=actor, changes={"accepted_by": actor}
        )
        notices.accepted_notice(referral)
        _audit_change(referral, actor=actor, context=context, action=Action.UPDATE, done="accepted")
    return referral


def referral_decline(
    *,
    referral: Referral,
    actor: User,
    context: AuditContext,
    reason_code: str,
    note: str = "",
) -> Referral:
    """The department declines; the coordinator is asked to find another department."""
    referral_allowed("decline", referral=referral, user=actor)
    if reason_code not in DeclineReason.values:
        raise ReferralError(_("Choose why the referral is declined."))
    if reason_code == DeclineReason.OTHER and not note.strip():
        raise ReferralError(_("Say why the referral is declined."))
    text = DeclineReason(reason_code).label + (f": {note.strip()}" if note.strip() else "")
    with transaction.atomic(), alliance_language():
        referral_transition(
            referral=referral,
            to=Status.DECLINED,
            actor=actor,
            reason=text,
            decline_reason=reason_code,
        )
        notices.declined_notice(referral, text)
        _audit_change(referral, actor=actor, context=context, action=Action.UPDATE, done="declined")
    return referral


def referral_redirect(
    *, referral: Referral, actor: User, context: AuditContext, department: Department | None
) -> Referral:
    """The coordinator sends a declined referral to another department or hospital."""
    referral_allowed("redirect", referral=referral, user=actor)
    department = _check_destination(department)
    if department.pk == referral.receiving_department_id:
        raise ReferralError(_("This department has just declined; choose another one."))
    with transaction.atomic(), alliance_language():
        referral_transition(
            referral=referral,
            to=Status.REQUESTED,
            actor=actor,
            reason=_("Sent to %(department)s, %(hospital)s")
            % {"department": department.name, "hospital": department.hospital.name},
            changes={"receiving_department": department, "receiving_hospital": department.hospital},
        )
        notices.requested_notice(referral, notices.department_people(department))
        _audit_change(
            referral, actor=actor, context=context, action=Action.UPDATE, done="redirected"
        )
    return referral


def referral_schedule(
    *,
    referral: Referral,
    actor: User,
    context: AuditContext,
    scheduled_for: dt.datetime | None,
    slot: str,
    report_to: str,
    transport: str,
    what_to_bring: str = "",
) -> Referral:
    """Fix (or move) the date, the bed or clinic slot, the place, the transport; text the family."""
    referral_allowed("schedule", referral=referral, user=actor)
    if scheduled_for is None:
        raise ReferralError(_("Give the date and time."))
    if scheduled_for <= now():
        raise ReferralError(_("The date and time are in the past; choose a time to come."))
    if not report_to.strip():
        raise ReferralError(_("Say where the family should report."))
    if transport not in Transport.values:
        raise ReferralError(_("Choose the transport."))
    changes = {
        "scheduled_for": scheduled_for,
        "slot": slot.strip(),
        "report_to": report_to.strip(),
        "transport": transport,
        "what_to_bring": what_to_bring.strip(),
    }
    with transaction.atomic(), alliance_language():
        referral_transition(referral=referral, to=Status.SCHEDULED, actor=actor, changes=changes)
        notices.scheduled_notice(referral)
        _audit_change(
            referral, actor=actor, context=context, action=Action.UPDATE, done="scheduled"
        )
    return referral


def referral_depart(*, referral: Referral, actor: User, context: AuditContext) -> Referral:
    """The child is on the way (recorded by either hospital or a coordinator)."""
    referral_allowed("depart", referral=referral, user=actor)
    with transaction.atomic():
        referral_transition(referral=referral, to=Status.IN_TRANSIT, actor=actor)
        _audit_change(
            referral, actor=actor, context=context, action=Action.UPDATE, done="in transit"
        )
    return referral


def referral_arrive(*, referral: Referral, actor: User, context: AuditContext) -> Referral:
    """The child arrived at the receiving department."""
    referral_allowed("arrive", referral=referral, user=actor)
    with transaction.atomic(), alliance_language():
        referral_transition(referral=referral, to=Status.ARRIVED, actor=actor)
        notices.arrived_notice(referral)
        _audit_change(referral, actor=actor, context=context, action=Action.UPDATE, done="arrived")
    return referral


def referral_complete(
    *, referral: Referral, actor: User, context: AuditContext, outcome_note: str
) -> Referral:
    """The receiving department closes the referral with the outcome for the referring side."""
    referral_allowed("complete", referral=referral, user=actor)
    if not outcome_note.strip():
        raise ReferralError(_("Write the outcome for the referring hospital."))
    with transaction.atomic(), alliance_language():
        referral_transition(
            referral=referral,
            to=Status.COMPLETED,
            actor=actor,
            changes={"outcome_note": outcome_note.strip()},
        )
        notices.completed_notice(referral, outcome_note)
        _audit_change(
            referral, actor=actor, context=context, action=Action.UPDATE, done="completed"
        )
    return referral


def referral_cancel(
    *, referral: Referral, actor: User, context: AuditContext, reason: str
) -> Referral:
    """Cancel before arrival (the referring hospital or a coordinator)."""
    referral_allowed("cancel", referral=referral, user=actor)
    if not reason.strip():
        raise ReferralError(_("Give a reason for cancelling."))
    was_scheduled = referral.status in (Status.SCHEDULED, Status.IN_TRANSIT)
    with transaction.atomic(), alliance_language():
        referral_transition(referral=referral, to=Status.CANCELLED, actor=actor, reason=reason)
        notices.cancelled_notice(referral, reason, sms=was_scheduled)
        _audit_change(
            referral, actor=actor, context=context, action=Action.UPDATE, done="cancelled"
        )
    return referral


# --- the deadline policy ---------------------------------------------------------------------


def referral_policy_update(
    *,
    actor: User,
    urgency: str,
    accept_seconds: int,
    schedule_seconds: int,
    escalate_seconds: int,
    working_days: bool,
) -> ReferralPolicy:
    """Change a policy and move every running deadline of that urgency to match it."""
    if actor.role != Role.ADMIN and not actor.is_superuser:
        raise ReferralError(_("Only the alliance admin can change the referral deadlines."))
    with transaction.atomic():
        policy, _created = ReferralPolicy.objects.update_or_create(
            urgency=urgency,
            defaults={
                "accept_seconds": accept_seconds,
                "schedule_seconds": schedule_seconds,
                "escalate_seconds": escalate_seconds,
                "working_days": working_days,
                "updated_by": actor,
            },
        )
        rule = referral_policies()[urgency]
        running = Referral.objects.filter(
            Q(urgency=urgency), status__in=DEADLINE_STATUSES
        ).select_for_update()
        for referral in running.iterator(chunk_size=1000):
            Referral.objects.filter(pk=referral.pk).update(**deadline_fields(referral, rule))
    return policy
