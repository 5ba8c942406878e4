"""SLA deadline arithmetic. Pure: no ORM, no clock; every function takes `now` if it needs it.

The clock counts "active" seconds from submission, minus time paused while the
referring doctor owes information. The ladder is a sequence of stages, each due
at an active-time offset:

    stage 0 → remind the specialist   at remind_percent % of target
    stage 1 → warn the coordinator    at target
    stage 2 → breach: reassign, mark  at breach
    stage 2+n → reassign again        at breach + n × repeat

`sla_stage` on the case counts the steps done; the next step is the one for that stage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


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
