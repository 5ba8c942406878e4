"""Referral deadlines: the arithmetic, the bookkeeping on the row, and the sweep.

The arithmetic (`Policy`, `add_time`, `due`, `next_deadline`) is pure and tested without a
database. A phase (acceptance after the request, scheduling after acceptance) is due
`phase_seconds` after it started; the coordinator is warned then (stage 0 → 1), the
department head `escalate_seconds` later (stage 1 → 2); after that nothing more is due.
With `working_days`, only Monday-Friday time counts (in the alliance's time zone).

The bookkeeping: every transition stores the phase's `due_at` and the sweep's
`next_deadline` (`deadline_fields`), from the admin's policy per urgency
(`referral_policies`).

The sweep (STYLE.md "Deadlines"): beat runs it every minute. Referrals waiting for
acceptance or for a date whose next deadline has passed are taken oldest first, one at a
time, locked with SELECT ... FOR UPDATE SKIP LOCKED. A step is claimed by bumping
`deadline_stage` with a conditional update, and its event row is unique per (referral,
phase, stage): the coordinator is warned once, then the department head once, per phase.
Messages are outbox rows delivered by another task. A row whose step fails is pushed back a
few minutes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.timezone import now

from core.deadline_sweep import sweep_due
from core.notify import alliance_language
from referrals import notices
from referrals.models import (
    DEADLINE_STATUSES,
    DEFAULT_POLICIES,
    Referral,
    ReferralEvent,
    ReferralPolicy,
    Status,
)

WARN_COORDINATOR = 0
WARN_HEAD = 1
LAST_STAGE = 2


@dataclass(frozen=True)
class Policy:
    accept: dt.timedelta
    schedule: dt.timedelta
    escalate: dt.timedelta
    working_days: bool = False

    @classmethod
    def from_seconds(
        cls, accept: int, schedule: int, escalate: int, working_days: bool = False
    ) -> Policy:
        return cls(
            dt.timedelta(seconds=accept),
            dt.timedelta(seconds=schedule),
            dt.timedelta(seconds=escalate),
            working_days,
        )


def add_time(start: dt.datetime, span: dt.timedelta, *, working_days: bool, tz: str) -> dt.datetime:
    """`start + span`; with working_days, Saturdays and Sundays (local time) do not count."""
    if not working_days:
        return start + span
    zone = ZoneInfo(tz)
    at = start.astimezone(zone)
    left = span
    while True:
        if at.weekday() >= 5:  # jump to the next Monday 00:00
            days = 7 - at.weekday()
            at = (at + dt.timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
            continue
        midnight = (at + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        if at + left <= midnight:
            return (at + left).astimezone(dt.UTC)
        left -= midnight - at
        at = midnight


def phase_span(policy: Policy, accepting: bool) -> dt.timedelta:
    return policy.accept if accepting else policy.schedule


def due(policy: Policy, started: dt.datetime, *, accepting: bool, tz: str) -> dt.datetime:
    """When the phase should be done."""
    return add_time(started, phase_span(policy, accepting), working_days=policy.working_days, tz=tz)


def next_deadline(
    policy: Policy, started: dt.datetime, stage: int, *, accepting: bool, tz: str
) -> dt.datetime | None:
    """When the sweep must act next for a phase at `stage`; None once the head was warned."""
    phase_due = due(policy, started, accepting=accepting, tz=tz)
    if stage == WARN_COORDINATOR:
        return phase_due
    if stage == WARN_HEAD:
        return add_time(phase_due, policy.escalate, working_days=policy.working_days, tz=tz)
    return None


# --- the bookkeeping on the row ------------------------------------------------------------


def referral_policies() -> dict[str, Policy]:
    """The policy per urgency: the admin's rows, the defaults where a row is missing."""
    policies: dict[str, Policy] = {
        u: Policy.from_seconds(
            v["accept_seconds"],
            v["schedule_seconds"],
            v["escalate_seconds"],
            bool(v["working_days"]),
        )
        for u, v in DEFAULT_POLICIES.items()
    }
    for row in ReferralPolicy.objects.all():
        policies[row.urgency] = Policy.from_seconds(
            row.accept_seconds, row.schedule_seconds, row.escalate_seconds, row.working_days
        )
    return policies


def deadline_fields(referral: Referral, policy: Policy) -> dict[str, Any]:
    """`due_at` and `next_deadline` for the referral's phase and stage (None when none runs)."""
    if referral.status not in DEADLINE_STATUSES or referral.phase_started_at is None:
        return {"due_at": None, "next_deadline": None}
    accepting = referral.status == Status.REQUESTED
    tz = settings.TIME_ZONE
    return {
        "due_at": due(policy, referral.phase_started_at, accepting=accepting, tz=tz),
        "next_deadline": next_deadline(
            policy, referral.phase_started_at, referral.deadline_stage, accepting=accepting, tz=tz
        ),
    }


def deadline_store(referral: Referral) -> None:
    """Store the deadlines of the referral's current phase on its row (and the instance)."""
    timing = deadline_fields(referral, referral_policies()[referral.urgency])
    Referral.objects.filter(pk=referral.pk).update(**timing)
    for field, value in timing.items():
        setattr(referral, field, value)


# --- the sweep -----------------------------------------------------------------------------


def referral_sweep(*, limit: int = 1000) -> int:
    """Take every due warning, one row at a time. Returns how many rows were handled."""
    policies = referral_policies()
    return sweep_due(
        queryset=Referral.objects.select_related("receiving_department__head", "patient").filter(
            status__in=DEADLINE_STATUSES
        ),
        step=lambda r: referral_deadline_step(referral=r, policy=policies[r.urgency]),
        limit=limit,
    )


def referral_deadline_step(*, referral: Referral, policy: Policy) -> bool:
    """Take the warning the referral is due for; False if nothing was due (runs locked)."""
    stage = referral.deadline_stage
    accepting = referral.status == Status.REQUESTED
    tz = settings.TIME_ZONE
    start = referral.phase_started_at
    if start is None:  # every transition into a deadline status sets it; none: no deadline
        Referral.objects.filter(pk=referral.pk).update(next_deadline=None)
        return False
    due_now = next_deadline(policy, start, stage, accepting=accepting, tz=tz)
    if due_now is None or due_now > now():
        # The policy changed since the deadline was stored.
        Referral.objects.filter(pk=referral.pk).update(next_deadline=due_now)
        return False
    following = next_deadline(policy, start, stage + 1, accepting=accepting, tz=tz)
    claimed = Referral.objects.filter(
        pk=referral.pk, status=referral.status, deadline_stage=stage
    ).update(deadline_stage=stage + 1, next_deadline=following)
    if not claimed:
        return False
    referral.deadline_stage, referral.next_deadline = stage + 1, following
    kind = (
        ReferralEvent.Kind.WARN_COORDINATOR
        if stage == WARN_COORDINATOR
        else ReferralEvent.Kind.WARN_HEAD
    )
    ReferralEvent.objects.create(
        referral=referral,
        at=now(),
        kind=kind,
        from_status=referral.status,
        to_status=referral.status,
        deadline_round=referral.deadline_round,
        deadline_stage=stage,
        department=referral.receiving_department,
    )
    with alliance_language():
        notices.overdue_warning(
            referral, to_head=kind == ReferralEvent.Kind.WARN_HEAD, accepting=accepting
        )
    return True
