"""The SLA: deadline arithmetic, the bookkeeping of each case's clock, and the sweep.

Arithmetic first (pure: no ORM, no clock; every function takes `now` if it needs it).
The clock counts "active" seconds from submission, minus time paused while the
referring doctor owes information. The ladder is a sequence of stages, each due
at an active-time offset:

    stage 0 → remind the specialist   at remind_percent % of target
    stage 1 → warn the coordinator    at target
    stage 2 → breach: reassign, mark  at breach
    stage 2+n → reassign again        at breach + n × repeat

`sla_stage` on the case counts the steps done; the next step is the one for that stage.

Then the bookkeeping the transition function and the pages use (the policy per priority,
a case's clock, its next deadline and its standing), and the sweep (STYLE.md "Deadlines"):
beat runs it every minute. Rows whose next deadline has passed are taken oldest first, one
at a time, each locked with SELECT ... FOR UPDATE SKIP LOCKED so concurrent sweepers never
take the same row. The step is recorded by bumping `sla_stage` with a conditional update
and by an event row unique per (case, stage): even two sweeps that raced past the lock
could not record a step twice. Messages are outbox rows; delivery happens in another task.
A row whose step fails is pushed back a few minutes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

# The transition function keeps a case's clock with this module, and the sweep reassigns
# through the transition function: the two modules import each other as modules (attributes
# read at call time), never names from a half-loaded module.
from consult.consultations import services
from consult.models import (
    DEFAULT_POLICIES,
    OPEN_STATUSES,
    Consultation,
    ConsultationEvent,
    SlaPolicy,
    Status,
    User,
)
from core.audit import Action, AuditContext, audit_record
from core.deadline_sweep import RETRY_AFTER, sweep_due  # noqa: F401 - tests read it here
from core.notify import alliance_language
from core.realtime import push_after_commit


class Step(StrEnum):
    REMIND = "remind"
    WARN = "warn"
    BREACH = "breach"
    REASSIGN = "reassign"


@dataclass(frozen=True)
class Policy:
    target: dt.timedelta
    breach: dt.timedelta
    remind_percent: int = 50
    repeat: dt.timedelta = dt.timedelta(hours=1)

    @classmethod
    def from_seconds(
        cls, target: int, breach: int, remind_percent: int = 50, repeat: int = 3600
    ) -> Policy:
        return cls(
            dt.timedelta(seconds=target),
            dt.timedelta(seconds=breach),
            remind_percent,
            dt.timedelta(seconds=repeat),
        )


@dataclass(frozen=True)
class Clock:
    submitted_at: dt.datetime
    paused_seconds: int = 0
    paused_since: dt.datetime | None = None

    @property
    def running(self) -> bool:
        return self.paused_since is None


def step_for(stage: int) -> Step:
    if stage == 0:
        return Step.REMIND
    if stage == 1:
        return Step.WARN
    if stage == 2:
        return Step.BREACH
    return Step.REASSIGN


def offset_for(policy: Policy, stage: int) -> dt.timedelta:
    """Active time from submission at which the step of `stage` is due."""
    if stage == 0:
        return policy.target * policy.remind_percent / 100
    if stage == 1:
        return policy.target
    return policy.breach + policy.repeat * (stage - 2)


def elapsed(clock: Clock, now: dt.datetime) -> dt.timedelta:
    """Active time so far: wall time since submission minus pauses (a running pause included)."""
    end = clock.paused_since or now
    active = end - clock.submitted_at - dt.timedelta(seconds=clock.paused_seconds)
    return max(active, dt.timedelta(0))


def wall_time_at(clock: Clock, offset: dt.timedelta) -> dt.datetime | None:
    """When the active clock reaches `offset`, given no further pause; None while paused."""
    if not clock.running:
        return None
    return clock.submitted_at + dt.timedelta(seconds=clock.paused_seconds) + offset


def next_deadline(policy: Policy, clock: Clock, stage: int) -> dt.datetime | None:
    """When the sweep must act next on a case at `stage`, or None while the clock is paused."""
    return wall_time_at(clock, offset_for(policy, stage))


def pause(clock: Clock, now: dt.datetime) -> Clock:
    if not clock.running:
        return clock
    return Clock(clock.submitted_at, clock.paused_seconds, now)


def resume(clock: Clock, now: dt.datetime) -> Clock:
    if clock.running:
        return clock
    paused = max(int((now - clock.paused_since).total_seconds()), 0)  # type: ignore[operator]
    return Clock(clock.submitted_at, clock.paused_seconds + paused, None)


@dataclass(frozen=True)
class Standing:
    """What a list shows: time left to the target (negative when overdue) and the flags."""

    left: dt.timedelta
    due_at: dt.datetime | None
    at_risk: bool
    breached: bool
    paused: bool


def standing(policy: Policy, clock: Clock, now: dt.datetime) -> Standing:
    used = elapsed(clock, now)
    return Standing(
        left=policy.target - used,
        due_at=wall_time_at(clock, policy.target),
        at_risk=used >= policy.target,
        breached=used >= policy.breach,
        paused=not clock.running,
    )


def format_left(left: dt.timedelta) -> tuple[bool, int, int]:
    """(overdue, hours, minutes) of a time-left value, for templates to phrase."""
    seconds = int(left.total_seconds())
    overdue = seconds < 0
    minutes = abs(seconds) // 60
    return overdue, minutes // 60, minutes % 60


# --- a case's clock (the transition function and the pages) ------------------------------


def sla_policies() -> dict[str, Policy]:
    """The policy per priority: the admin's rows, the defaults where a row is missing."""
    policies: dict[str, Policy] = {
        p: Policy.from_seconds(v["target_seconds"], v["breach_seconds"])
        for p, v in DEFAULT_POLICIES.items()
    }
    for row in SlaPolicy.objects.all():
        policies[row.priority] = Policy.from_seconds(
            row.target_seconds, row.breach_seconds, row.remind_percent, row.repeat_seconds
        )
    return policies


def sla_clock(consultation: Consultation) -> Clock:
    return Clock(
        submitted_at=consultation.submitted_at or timezone.now(),
        paused_seconds=consultation.sla_paused_seconds,
        paused_since=consultation.sla_paused_since,
    )


def sla_deadline(consultation: Consultation, policy: Policy) -> dt.datetime | None:
    if consultation.status not in OPEN_STATUSES or consultation.submitted_at is None:
        return None
    return next_deadline(policy, sla_clock(consultation), consultation.sla_stage)


def sla_clock_changes(consultation: Consultation, to: str, at: dt.datetime) -> dict[str, Any]:
    """The clock's columns after the case moves to `to` at `at`: it starts at submission,
    pauses while information is owed and resumes at the answer."""
    old = consultation.status
    changes: dict[str, Any] = {}
    if old == Status.DRAFT and to == Status.SUBMITTED:
        changes.update(submitted_at=at, sla_stage=0, sla_paused_seconds=0)
    if to == Status.INFO_REQUESTED and old != Status.INFO_REQUESTED:
        changes["sla_paused_since"] = at
    if old == Status.INFO_REQUESTED and to != Status.INFO_REQUESTED:
        clock = resume(sla_clock(consultation), at)
        changes.update(sla_paused_seconds=clock.paused_seconds, sla_paused_since=None)
    return changes


def sla_standing(
    consultation: Consultation, policies: dict[str, Policy], at: dt.datetime | None = None
) -> Standing | None:
    if consultation.submitted_at is None:
        return None
    clock = sla_clock(consultation)
    if consultation.status not in OPEN_STATUSES:
        # The clock stopped when the report was signed (or the case was cancelled).
        at = consultation.reported_at or consultation.updated_at
    return standing(policies[consultation.priority], clock, at or timezone.now())


def sla_policy_update(
    *,
    actor: User,
    context: AuditContext,
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
                "updated_by": actor,
            },
        )
        rule = sla_policies()[priority]
        open_cases = Consultation.objects.filter(
            priority=priority, status__in=OPEN_STATUSES
        ).select_for_update()
        for case in open_cases.iterator(chunk_size=1000):
            Consultation.objects.filter(pk=case.pk).update(next_deadline=sla_deadline(case, rule))
        audit_record(
            action=Action.UPDATE,
            context=context,
            user=actor,
            object_type="slapolicy",
            object_id=priority,
        )
    return policy


def time_left_text(left: dt.timedelta) -> str:
    overdue, hours, minutes = format_left(left)
    if overdue:
        return _("overdue %(h)dh %(m)02dm") % {"h": hours, "m": minutes}
    return _("%(h)dh %(m)02dm left") % {"h": hours, "m": minutes}


def due_text(due: dt.datetime | None) -> str:
    return timezone.localtime(due).strftime("%m-%d %H:%M") if due else ""


# --- the sweep -----------------------------------------------------------------------------

EVENT_KIND = {
    Step.REMIND: ConsultationEvent.Kind.SLA_REMIND,
    Step.WARN: ConsultationEvent.Kind.SLA_WARN,
    Step.BREACH: ConsultationEvent.Kind.SLA_BREACH,
    Step.REASSIGN: ConsultationEvent.Kind.SLA_REASSIGN,
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


def sla_step(*, consultation: Consultation, policies: dict[str, Policy]) -> bool:
    """Take the ladder step the case is due for. Returns False if nothing was due.

    Runs inside the sweep's transaction, with the row locked.
    """
    policy = policies[consultation.priority]
    stage = consultation.sla_stage
    clock = sla_clock(consultation)
    due = next_deadline(policy, clock, stage)
    at = timezone.now()
    if due is None or due > at:
        # The policy changed or the clock paused since the deadline was stored.
        Consultation.objects.filter(pk=consultation.pk).update(next_deadline=due)
        return False
    step = step_for(stage)
    changes = {"sla_stage": stage + 1, "next_deadline": next_deadline(policy, clock, stage + 1)}
    if step == Step.BREACH:
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
        _sla_act(consultation, step)
    # Dashboards and lists show "at risk" and "breached": tell them after commit.
    push_after_commit(
        services.consultation_groups(consultation),
        "consultation",
        id=consultation.pk,
        sla_stage=consultation.sla_stage,
    )
    return True


def _sla_act(consultation: Consultation, step: Step) -> None:
    specialist = consultation.assigned_to
    ref = {"id": consultation.pk}
    if step == Step.REMIND:
        target = specialist and [specialist] or services.coordinators()
        services.consultation_notify(
            target,
            "sla_remind",
            _("Reminder: case #%(id)s is half-way to its deadline") % ref,
            _("Please read case #%(id)s soon.") % ref,
            consultation,
        )
    elif step == Step.WARN:
        services.consultation_notify(
            [*services.coordinators(), specialist],
            "sla_warn",
            _("Case #%(id)s has passed its target time") % ref,
            _("Assigned to %(who)s; status: %(status)s.")
            % {"who": specialist or _("nobody"), "status": Status(consultation.status).label},
            consultation,
            sms=True,
        )
    else:
        _sla_reassign(consultation, step, specialist)


def _sla_reassign(consultation: Consultation, step: Step, previous: User | None) -> None:
    ref = {"id": consultation.pk}
    reason = (
        _("SLA breached: reassigned")
        if step == Step.BREACH
        else _("Still overdue: reassigned again")
    )
    pick = None
    if consultation.status in (Status.SUBMITTED, Status.ASSIGNED, Status.IN_REVIEW):
        exclude = [previous.pk] if previous else []
        pick = services.consultation_route(
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
        if step == Step.BREACH
        else _("Case #%(id)s is still overdue") % ref
    )
    services.consultation_notify(
        services.coordinators(), "sla_breach", subject, text, consultation, sms=True
    )
    if pick and previous:
        services.consultation_notify(
            [previous],
            "reassigned",
            _("Case reassigned"),
            _("Case #%(id)s passed its deadline and was given to a colleague.") % ref,
            consultation,
        )
