"""Referral deadline arithmetic, no ORM: when a phase is due, and when to warn whom.

A phase (acceptance after the request, scheduling after acceptance) is due
`phase_seconds` after it started; the coordinator is warned then (stage 0 → 1), the
department head `escalate_seconds` later (stage 1 → 2); after that nothing more is due.
With `working_days`, only Monday-Friday time counts (in the alliance's time zone).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

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
