"""What a referral tells people: the notices of each step, the overdue warnings of the
deadline sweep and the family's text message.

Every function writes outbox rows inside the caller's transaction (core.notify delivers
them after commit). Callers hold `alliance_language()`, so the stored texts are in the
alliance's language whatever the language of the person who acted.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.urls import reverse
from django.utils.timezone import localtime
from django.utils.translation import gettext as _

from consult.models import Department, Guardian, Role, User
from core.notify import notification_create, notification_sms_create
from referrals.models import Referral, Transport, Urgency

# --- who hears it ------------------------------------------------------------------------


def coordinators() -> list[User]:
    return list(User.objects.filter(role=Role.COORDINATOR, is_active=True))


def department_people(department: Department) -> list[User]:
    """Everyone who works the department's worklist, and its head."""
    people = list(User.objects.filter(department=department, is_active=True))
    if department.head_id and department.head_id not in {u.pk for u in people}:
        head = department.head
        if head is not None:
            people.append(head)
    return people


def source_people(referral: Referral) -> list[User | None]:
    return [referral.source_doctor, referral.requested_by]


def referral_url(referral: Referral) -> str:
    return reverse("referrals:detail", args=[referral.pk])


def notify(
    recipients: Iterable[User | None],
    kind: str,
    subject: str,
    body: str,
    referral: Referral,
    *,
    sms: bool = False,
) -> None:
    """One notice about `referral` to each recipient, linking to its page."""
    notification_create(
        recipients=[r for r in recipients if r is not None],
        kind=kind,
        subject=subject,
        body=body,
        url=referral_url(referral),
        obj=referral,
        sms=sms,
    )


# --- the steps ---------------------------------------------------------------------------


def requested_notice(referral: Referral, recipients: Iterable[User | None]) -> None:
    """A new referral (or one sent on to another department) for its receivers."""
    body = _("%(child)s from %(hospital)s (%(urgency)s): %(reason)s") % {
        "child": referral.patient.name,
        "hospital": referral.source_hospital.name,
        "urgency": Urgency(referral.urgency).label,
        "reason": referral.reason[:200],
    }
    notify(
        recipients,
        "referral_requested",
        _("New green-channel referral #%(id)s") % {"id": referral.pk},
        body,
        referral,
        sms=referral.urgency == Urgency.EMERGENCY,
    )


def accepted_notice(referral: Referral) -> None:
    notify(
        [*source_people(referral), *coordinators()],
        "referral_accepted",
        _("Referral #%(id)s accepted") % {"id": referral.pk},
        _("%(department)s accepts %(child)s; the date follows.")
        % {"department": referral.receiving_department.name, "child": referral.patient.name},
        referral,
    )


def declined_notice(referral: Referral, reason: str) -> None:
    notify(
        [*coordinators(), *source_people(referral)],
        "referral_declined",
        _("Referral #%(id)s declined") % {"id": referral.pk},
        _("%(department)s declined: %(reason)s. The coordinator will choose another.")
        % {"department": referral.receiving_department.name, "reason": reason},
        referral,
        sms=referral.urgency == Urgency.EMERGENCY,
    )


def scheduled_notice(referral: Referral) -> None:
    """The date for both hospitals and the coordinators, and a text to each guardian."""
    when = localtime(referral.scheduled_for).strftime("%Y-%m-%d %H:%M")
    notify(
        [*source_people(referral), *coordinators()],
        "referral_scheduled",
        _("Referral #%(id)s scheduled for %(when)s") % {"id": referral.pk, "when": when},
        _("%(child)s: %(place)s, %(slot)s; transport: %(transport)s.")
        % {
            "child": referral.patient.name,
            "place": referral.report_to,
            "slot": referral.slot or "—",
            "transport": Transport(referral.transport).label,
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


def arrived_notice(referral: Referral) -> None:
    notify(
        [*source_people(referral), *coordinators()],
        "referral_arrived",
        _("%(child)s has arrived") % {"child": referral.patient.name},
        _("Referral #%(id)s: the child arrived at %(department)s.")
        % {"id": referral.pk, "department": referral.receiving_department.name},
        referral,
    )


def completed_notice(referral: Referral, outcome_note: str) -> None:
    notify(
        source_people(referral),
        "referral_completed",
        _("Referral #%(id)s completed") % {"id": referral.pk},
        outcome_note[:200],
        referral,
    )


def cancelled_notice(referral: Referral, reason: str, *, sms: bool) -> None:
    notify(
        [
            *department_people(referral.receiving_department),
            *source_people(referral),
            *coordinators(),
        ],
        "referral_cancelled",
        _("Referral #%(id)s cancelled") % {"id": referral.pk},
        reason[:200],
        referral,
        sms=sms,
    )


# --- the deadline sweep's warnings -------------------------------------------------------


def overdue_warning(referral: Referral, *, to_head: bool, accepting: bool) -> None:
    """The coordinators first; at the next stage the department head (or, without a head on
    record, the coordinators again, so that someone escalates)."""
    department = referral.receiving_department
    what = _("acceptance") if accepting else _("scheduling")
    ref = {
        "id": referral.pk,
        "what": what,
        "department": department.name,
        "due": localtime(referral.due_at).strftime("%m-%d %H:%M") if referral.due_at else "",
    }
    if not to_head:
        notify(
            coordinators(),
            "referral_overdue",
            _("Referral #%(id)s: %(what)s overdue") % ref,
            _("%(department)s has not answered; %(what)s was due at %(due)s.") % ref,
            referral,
            sms=True,
        )
        return
    target = [department.head] if department.head_id else coordinators()
    notify(
        target,
        "referral_overdue_head",
        _("Referral #%(id)s still waiting for your department") % ref,
        _("The %(what)s of referral #%(id)s was due at %(due)s; please see to it now.") % ref,
        referral,
        sms=True,
    )
