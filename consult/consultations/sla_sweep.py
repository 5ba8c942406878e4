"""The SLA sweep (STYLE.md "Deadlines"): beat runs it every minute.

Rows whose next deadline has passed are taken oldest first, one at a time, each
locked with SELECT ... FOR UPDATE SKIP LOCKED so concurrent sweepers never take
the same row. The step is recorded by bumping `sla_stage` with a conditional
update and by an event row unique per (case, stage): even two sweeps that raced
past the lock could not record a step twice. Messages are outbox rows; delivery
happens in another task. A row whose step fails is pushed back a few minutes.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.timezone import localtime, now
from django.utils.translation import gettext as _

from consult.consultations import sla
from consult.consultations.services import (
    _notify,
    consultation_groups,
    consultation_route,
    coordinators,
    sla_clock,
    sla_deadline,
    sla_policies,
)
from consult.deadline_sweep import RETRY_AFTER, sweep_due  # noqa: F401 - tests read it here
from consult.models import OPEN_STATUSES, Consultation, ConsultationEvent, SlaPolicy, Status, User
from consult.notify import alliance_language
from consult.realtime import push_after_commit

EVENT_KIND = {
    sla.Step.REMIND: ConsultationEvent.Kind.SLA_REMIND,
    sla.Step.WARN: ConsultationEvent.Kind.SLA_WARN,
    sla.Step.BREACH: ConsultationEvent.Kind.SLA_BREACH,
    sla.Step.REASSIGN: ConsultationEvent.Kind.SLA_REASSIGN,
}


def sla_sweep(*, limit: int = 1000) -> int:
    """Take every due step, one row at a time. Returns how many rows were handled."""
    policies = sla_policies()
    return sweep_due(
        queryset=Consultation.objects.select_related("assigned_to").filter(
            status__in=OPEN_STATUSES
        ),
        step=lambda case: sla_step(consultation=case, policies=policies),
        limit=limit,
    )


def sla_step(*, consultation: Consultation, policies: dict[str, sla.Policy]) -> bool:
    """Take the ladder step the case is due for. Returns False if nothing was due.

    Runs inside the sweep's transaction, with the row locked.
    """
    policy = policies[consultation.priority]
    stage = consultation.sla_stage
    clock = sla_clock(consultation)
    due = sla.next_deadline(policy, clock, stage)
    at = now()
    if due is None or due > at:
        # The policy changed or the clock paused since the deadline was stored.
        Consultation.objects.filter(pk=consultation.pk).update(next_deadline=due)
        return False
    step = sla.step_for(stage)
    changes = {"sla_stage": stage + 1, "next_deadline": sla.next_deadline(policy, clock, stage + 1)}
    if step == sla.Step.BREACH:
        changes["breached_at"] = at
    if not Consultation.objects.filter(pk=consultation.pk, sla_stage=stage).update(**changes):
        return False
    for field, value in changes.items():
        setattr(consultation, field, value)
    ConsultationEvent.objects.create(
        consultation=consultation,
        at=at,
        kind=EVENT_KIND[step],
        sla_stage=stage,
        from_status=consultation.status,
        to_status=consultation.status,
    )
    with alliance_language():
        # A reassignment goes through consultation_transition, which stores its own deadline.
        _act(consultation, step, due)
    # Dashboards and lists show "at risk" and "breached": tell them after commit.
    push_after_commit(
        consultation_groups(consultation),
        "consultation",
        id=consultation.pk,
        sla_stage=consultation.sla_stage,
    )
    return True


def _act(consultation: Consultation, step: sla.Step, due: dt.datetime) -> None:
    specialist = consultation.assigned_to
    ref = {"id": consultation.pk}
    if step == sla.Step.REMIND:
        target = specialist and [specialist] or coordinators()
        _notify(
            target,
            "sla_remind",
            _("Reminder: case #%(id)s is half-way to its deadline") % ref,
            _("Please read case #%(id)s soon.") % ref,
            consultation,
        )
    elif step == sla.Step.WARN:
        _notify(
            [*coordinators(), specialist],
            "sla_warn",
            _("Case #%(id)s has passed its target time") % ref,
            _("Assigned to %(who)s; status: %(status)s.")
            % {"who": specialist or _("nobody"), "status": Status(consultation.status).label},
            consultation,
            sms=True,
        )
    else:
        _reassign(consultation, step, specialist)


def _reassign(consultation: Consultation, step: sla.Step, previous: User | None) -> None:
    ref = {"id": consultation.pk}
    reason = (
        _("SLA breached: reassigned")
        if step == sla.Step.BREACH
        else _("Still overdue: reassigned again")
    )
    pick = None
    if consultation.status in (Status.SUBMITTED, Status.ASSIGNED, Status.IN_REVIEW):
        exclude = [previous.pk] if previous else []
        pick = consultation_route(
            consultation=consultation, actor=None, exclude=exclude, reason=reason
        )
    who = pick or previous
    text = (
        _("Case #%(id)s is now with %(who)s.") % {**ref, "who": who}
        if pick
        else _("No other on-call specialist: case #%(id)s needs you.") % ref
    )
    subject = (
        _("Case #%(id)s breached its deadline") % ref
        if step == sla.Step.BREACH
        else _("Case #%(id)s is still overdue") % ref
    )
    _notify(coordinators(), "sla_breach", subject, text, consultation, sms=True)
    if pick and previous:
        _notify(
            [previous],
            "reassigned",
            _("Case reassigned"),
            _("Case #%(id)s passed its deadline and was given to a colleague.") % ref,
            consultation,
        )


def sla_policy_update(
    *,
    user: User,
    priority: str,
    target_seconds: int,
    breach_seconds: int,
    remind_percent: int,
    repeat_seconds: int,
) -> SlaPolicy:
    """Change a policy and move every open case's next deadline to match it."""
    with transaction.atomic():
        policy, _created = SlaPolicy.objects.update_or_create(
            priority=priority,
            defaults={
                "target_seconds": target_seconds,
                "breach_seconds": breach_seconds,
                "remind_percent": remind_percent,
                "repeat_seconds": repeat_seconds,
                "updated_by": user,
            },
        )
        rule = sla_policies()[priority]
        open_cases = Consultation.objects.filter(
            priority=priority, status__in=OPEN_STATUSES
        ).select_for_update()
        for case in open_cases.iterator(chunk_size=1000):
            Consultation.objects.filter(pk=case.pk).update(next_deadline=sla_deadline(case, rule))
    return policy


def time_left_text(left: dt.timedelta) -> str:
    overdue, hours, minutes = sla.format_left(left)
    if overdue:
        return _("overdue %(h)dh %(m)02dm") % {"h": hours, "m": minutes}
    return _("%(h)dh %(m)02dm left") % {"h": hours, "m": minutes}


def due_text(due: dt.datetime | None) -> str:
    return localtime(due).strftime("%m-%d %H:%M") if due else ""


__all__ = ["sla_policy_update", "sla_step", "sla_sweep"]
