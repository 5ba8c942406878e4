"""Referral services: every write to a referral goes through here.

`referral_transition` is the only function that changes a referral's status (STYLE.md
"State machines"); the other services check who may act and what was given, then call it.

Who acts for a receiving department: a user whose `department` is that department, its
head (`Department.head`), and the coordinators of the receiving hospital (they arrange a
transfer with the department by phone and may record its answer).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils.timezone import localtime, now
from django.utils.translation import gettext as _

from consult.models import (
    Consultation,
    Department,
    Guardian,
    Hospital,
    Patient,
    Report,
    Role,
    User,
)
from consult.models import Status as ConsultationStatus
from consult.notify import alliance_language, notification_create, notification_sms_create
from consult.realtime import COORDINATORS, object_group, push_after_commit, user_group
from consult.transitions import ActorNotAllowed, Rule, TransitionNotAllowed, action_check
from referrals import deadlines
from referrals.models import (
    ACTIONS,
    DEADLINE_STATUSES,
    DEFAULT_POLICIES,
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


class ReferralError(Exception):
    """A refused action; the message is shown to the user as is."""


class ReferralNotAllowed(TransitionNotAllowed, ReferralError):
    """Not from the referral's current state (or somebody moved it first): HTTP 409."""


class ReferralActorNotAllowed(ActorNotAllowed, ReferralNotAllowed):
    """Not for this person: HTTP 403."""


# --- who is who --------------------------------------------------------------------------


def acts_for_department(user: Any, department: Department) -> bool:
    """May `user` answer for the receiving department (accept, schedule, record arrival)?"""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return (
        user.department_id == department.pk
        or department.head_id == user.pk
        or (user.role == Role.COORDINATOR and user.hospital_id == department.hospital_id)
    )


def is_source_side(user: Any, referral: Referral) -> bool:
    return user.role == Role.REFERRING_DOCTOR and user.hospital_id == referral.source_hospital_id


def coordinators() -> list[User]:
    return list(User.objects.filter(role=Role.COORDINATOR, is_active=True))


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


def department_people(department: Department) -> list[User]:
    """Everyone who works the department's worklist, and its head."""
    people = list(User.objects.filter(department=department, is_active=True))
    if department.head_id and department.head_id not in {u.pk for u in people}:
        people.append(cast(User, department.head))  # head_id is set, so head is a User
    return people


# --- deadlines ---------------------------------------------------------------------------


def referral_policies() -> dict[str, deadlines.Policy]:
    """The policy per urgency: the admin's rows, the defaults where a row is missing."""
    policies: dict[str, deadlines.Policy] = {
        u: deadlines.Policy.from_seconds(
            v["accept_seconds"],
            v["schedule_seconds"],
            v["escalate_seconds"],
            bool(v["working_days"]),
        )
        for u, v in DEFAULT_POLICIES.items()
    }
    for row in ReferralPolicy.objects.all():
        policies[row.urgency] = deadlines.Policy.from_seconds(
            row.accept_seconds, row.schedule_seconds, row.escalate_seconds, row.working_days
        )
    return policies


def deadline_fields(referral: Referral, policy: deadlines.Policy) -> dict[str, Any]:
    """`due_at` and `next_deadline` for the referral's phase and stage (None when none runs)."""
    if referral.status not in DEADLINE_STATUSES or referral.phase_started_at is None:
        return {"due_at": None, "next_deadline": None}
    accepting = referral.status == Status.REQUESTED
    tz = settings.TIME_ZONE
    return {
        "due_at": deadlines.due(policy, referral.phase_started_at, accepting=accepting, tz=tz),
        "next_deadline": deadlines.next_deadline(
            policy, referral.phase_started_at, referral.deadline_stage, accepting=accepting, tz=tz
        ),
    }


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
    event row and pushes the change to open pages after commit.
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
        timing = deadline_fields(referral, referral_policies()[referral.urgency])
        Referral.objects.filter(pk=referral.pk).update(**timing)
        for field, value in timing.items():
            setattr(referral, field, value)
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


def referral_url(referral: Referral) -> str:
    return reverse("referrals:detail", args=[referral.pk])


def _notify(
    recipients: Iterable[User | None],
    kind: str,
    subject: str,
    body: str,
    referral: Referral,
    *,
    sms: bool = False,
) -> None:
    notification_create(
        recipients=[r for r in recipients if r is not None],
        kind=kind,
        subject=subject,
        body=body,
        url=referral_url(referral),
        obj=referral,
        sms=sms,
    )


def _source_people(referral: Referral) -> list[User | None]:
    return [referral.source_doctor, referral.requested_by]


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
    user: User,
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
        allowed = user.role == Role.COORDINATOR or (
            user.role == Role.REFERRING_DOCTOR and user.hospital_id == consultation.hospital_id
        )
        if not allowed:
            raise ReferralError(
                _("Only the referring hospital or a coordinator can request a transfer.")
            )
        if consultation.status in (ConsultationStatus.DRAFT, ConsultationStatus.CANCELLED):
            raise ReferralError(_("A draft or cancelled consultation cannot be transferred."))
        patient = consultation.patient
        source_hospital = consultation.hospital
    elif user.role != Role.COORDINATOR:
        raise ReferralError(_("Only a coordinator can open a referral without a consultation."))
    if patient is None:
        raise ReferralError(_("Choose the child."))
    source_hospital = source_hospital or patient.home_hospital
    department = _check_destination(department)
    if department.hospital_id == source_hospital.pk:
        raise ReferralError(_("The receiving hospital is the child's own hospital."))
    with transaction.atomic(), alliance_language():
        referral = _referral_insert(
            user, consultation, patient, source_hospital, department, urgency, reason
        )
        body = _("%(child)s from %(hospital)s (%(urgency)s): %(reason)s") % {
            "child": patient.name,
            "hospital": source_hospital.name,
            "urgency": Urgency(urgency).label,
            "reason": reason[:200],
        }
        _notify(
            [*department_people(department), *coordinators()],
            "referral_requested",
            _("New green-channel referral #%(id)s") % {"id": referral.pk},
            body,
            referral,
            sms=urgency == Urgency.EMERGENCY,
        )
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
        report = (
            consultation.reports.filter(status=Report.Status.SIGNED).order_by("-version").first()
        )
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
    timing = deadline_fields(referral, referral_policies()[urgency])
    Referral.objects.filter(pk=referral.pk).update(**timing)
    for field, value in timing.items():
        setattr(referral, field, value)
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


def referral_accept(*, referral: Referral, user: User) -> Referral:
    """The receiving department takes the child. Of two people accepting at once, one wins."""
    if referral.status == Status.ACCEPTED and acts_for_department(
        user, referral.receiving_department
    ):
        raise ReferralNotAllowed(_moved_meanwhile(referral, Status.ACCEPTED), "accept")
    referral_allowed("accept", referral=referral, user=user)
    with transaction.atomic(), alliance_language():
        referral_transition(
            referral=referral, to=Status.ACCEPTED, actor=user, changes={"accepted_by": user}
        )
        _notify(
            [*_source_people(referral), *coordinators()],
            "referral_accepted",
            _("Referral #%(id)s accepted") % {"id": referral.pk},
            _("%(department)s accepts %(child)s; the date follows.")
            % {"department": referral.receiving_department.name, "child": referral.patient.name},
            referral,
        )
    return referral


def referral_decline(
    *, referral: Referral, user: User, reason_code: str, note: str = ""
) -> Referral:
    """The department declines; the coordinator is asked to find another department."""
    referral_allowed("decline", referral=referral, user=user)
    if reason_code not in DeclineReason.values:
        raise ReferralError(_("Choose why the referral is declined."))
    if reason_code == DeclineReason.OTHER and not note.strip():
        raise ReferralError(_("Say why the referral is declined."))
    text = DeclineReason(reason_code).label + (f": {note.strip()}" if note.strip() else "")
    with transaction.atomic(), alliance_language():
        referral_transition(
            referral=referral,
            to=Status.DECLINED,
            actor=user,
            reason=text,
            decline_reason=reason_code,
        )
        _notify(
            [*coordinators(), *_source_people(referral)],
            "referral_declined",
            _("Referral #%(id)s declined") % {"id": referral.pk},
            _("%(department)s declined: %(reason)s. The coordinator will choose another.")
            % {"department": referral.receiving_department.name, "reason": text},
            referral,
            sms=referral.urgency == Urgency.EMERGENCY,
        )
    return referral


def referral_redirect(*, referral: Referral, user: User, department: Department | None) -> Referral:
    """The coordinator sends a declined referral to another department or hospital."""
    referral_allowed("redirect", referral=referral, user=user)
    department = _check_destination(department)
    if department.pk == referral.receiving_department_id:
        raise ReferralError(_("This department has just declined; choose another one."))
    with transaction.atomic(), alliance_language():
        referral_transition(
            referral=referral,
            to=Status.REQUESTED,
            actor=user,
            reason=_("Sent to %(department)s, %(hospital)s")
            % {"department": department.name, "hospital": department.hospital.name},
            changes={"receiving_department": department, "receiving_hospital": department.hospital},
        )
        _notify(
            department_people(department),
            "referral_requested",
            _("New green-channel referral #%(id)s") % {"id": referral.pk},
            _("%(child)s from %(hospital)s (%(urgency)s): %(reason)s")
            % {
                "child": referral.patient.name,
                "hospital": referral.source_hospital.name,
                "urgency": Urgency(referral.urgency).label,
                "reason": referral.reason[:200],
            },
            referral,
            sms=referral.urgency == Urgency.EMERGENCY,
        )
    return referral


def referral_schedule(
    *,
    referral: Referral,
    user: User,
    scheduled_for: dt.datetime | None,
    slot: str,
    report_to: str,
    transport: str,
    what_to_bring: str = "",
) -> Referral:
    """Fix (or move) the date, the bed or clinic slot, the place, the transport; text the family."""
    referral_allowed("schedule", referral=referral, user=user)
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
        referral_transition(referral=referral, to=Status.SCHEDULED, actor=user, changes=changes)
        when = localtime(scheduled_for).strftime("%Y-%m-%d %H:%M")
        _notify(
            [*_source_people(referral), *coordinators()],
            "referral_scheduled",
            _("Referral #%(id)s scheduled for %(when)s") % {"id": referral.pk, "when": when},
            _("%(child)s: %(place)s, %(slot)s; transport: %(transport)s.")
            % {
                "child": referral.patient.name,
                "place": referral.report_to,
                "slot": referral.slot or "—",
                "transport": Transport(transport).label,
            },
            referral,
        )
        for guardian in Guardian.objects.filter(patient=referral.patient):
            notification_sms_create(
                to=guardian.mobile,
                body=family_sms_text(referral),
                kind="referral_family",
                obj=referral,
            )
    return referral


def family_sms_text(referral: Referral) -> str:
    """The guardian's text: when, where, what to bring, whom to call."""
    department = referral.receiving_department
    text = _(
        "PedsLink: %(child)s's transfer to %(hospital)s %(department)s is arranged for "
        "%(when)s. Please report to: %(place)s."
    ) % {
        "child": referral.patient.name,
        "hospital": referral.receiving_hospital.name,
        "department": department.name,
        "when": localtime(referral.scheduled_for).strftime("%Y-%m-%d %H:%M"),
        "place": referral.report_to,
    }
    if referral.what_to_bring:
        text += " " + _("Please bring: %(items)s.") % {"items": referral.what_to_bring}
    phone = department.phone or referral.receiving_hospital.phone
    if phone:
        text += " " + _("Questions: %(phone)s.") % {"phone": phone}
    return text


def referral_depart(*, referral: Referral, user: User) -> Referral:
    """The child is on the way (recorded by either hospital or a coordinator)."""
    referral_allowed("depart", referral=referral, user=user)
    with transaction.atomic():
        return referral_transition(referral=referral, to=Status.IN_TRANSIT, actor=user)


def referral_arrive(*, referral: Referral, user: User) -> Referral:
    referral_allowed("arrive", referral=referral, user=user)
    with transaction.atomic(), alliance_language():
        referral_transition(referral=referral, to=Status.ARRIVED, actor=user)
        _notify(
            [*_source_people(referral), *coordinators()],
            "referral_arrived",
            _("%(child)s has arrived") % {"child": referral.patient.name},
            _("Referral #%(id)s: the child arrived at %(department)s.")
            % {"id": referral.pk, "department": referral.receiving_department.name},
            referral,
        )
    return referral


def referral_complete(*, referral: Referral, user: User, outcome_note: str) -> Referral:
    referral_allowed("complete", referral=referral, user=user)
    if not outcome_note.strip():
        raise ReferralError(_("Write the outcome for the referring hospital."))
    with transaction.atomic(), alliance_language():
        referral_transition(
            referral=referral,
            to=Status.COMPLETED,
            actor=user,
            changes={"outcome_note": outcome_note.strip()},
        )
        _notify(
            _source_people(referral),
            "referral_completed",
            _("Referral #%(id)s completed") % {"id": referral.pk},
            outcome_note[:200],
            referral,
        )
    return referral


def referral_cancel(*, referral: Referral, user: User, reason: str) -> Referral:
    """Cancel before arrival (the referring hospital or a coordinator)."""
    referral_allowed("cancel", referral=referral, user=user)
    if not reason.strip():
        raise ReferralError(_("Give a reason for cancelling."))
    was_scheduled = referral.status in (Status.SCHEDULED, Status.IN_TRANSIT)
    with transaction.atomic(), alliance_language():
        referral_transition(referral=referral, to=Status.CANCELLED, actor=user, reason=reason)
        _notify(
            [
                *department_people(referral.receiving_department),
                *_source_people(referral),
                *coordinators(),
            ],
            "referral_cancelled",
            _("Referral #%(id)s cancelled") % {"id": referral.pk},
            reason[:200],
            referral,
            sms=was_scheduled,
        )
    return referral


def referral_policy_update(
    *,
    user: User,
    urgency: str,
    accept_seconds: int,
    schedule_seconds: int,
    escalate_seconds: int,
    working_days: bool,
) -> ReferralPolicy:
    """Change a policy and move every running deadline of that urgency to match it."""
    if user.role != Role.ADMIN and not user.is_superuser:
        raise ReferralError(_("Only the alliance admin can change the referral deadlines."))
    with transaction.atomic():
        policy, _created = ReferralPolicy.objects.update_or_create(
            urgency=urgency,
            defaults={
                "accept_seconds": accept_seconds,
                "schedule_seconds": schedule_seconds,
                "escalate_seconds": escalate_seconds,
                "working_days": working_days,
                "updated_by": user,
            },
        )
        rule = referral_policies()[urgency]
        running = Referral.objects.filter(
            Q(urgency=urgency), status__in=DEADLINE_STATUSES
        ).select_for_update()
        for referral in running.iterator(chunk_size=1000):
            Referral.objects.filter(pk=referral.pk).update(**deadline_fields(referral, rule))
    return policy
