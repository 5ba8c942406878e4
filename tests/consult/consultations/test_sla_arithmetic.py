"""The SLA deadline arithmetic, as pure functions: no database, no clock."""

import datetime as dt

from consult.consultations import sla

T0 = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
ROUTINE = sla.Policy.from_seconds(4 * 3600, 6 * 3600)
URGENT = sla.Policy.from_seconds(3600, 2 * 3600)
H = dt.timedelta(hours=1)


def test_ladder_offsets_follow_the_policy():
    assert [sla.offset_for(ROUTINE, s) for s in range(5)] == [2 * H, 4 * H, 6 * H, 7 * H, 8 * H]
    assert [sla.step_for(s) for s in range(4)] == [
        sla.Step.REMIND,
        sla.Step.WARN,
        sla.Step.BREACH,
        sla.Step.REASSIGN,
    ]


def test_remind_percent_is_a_share_of_the_target():
    policy = sla.Policy.from_seconds(3600, 7200, remind_percent=25)
    assert sla.offset_for(policy, 0) == dt.timedelta(minutes=15)


def test_deadlines_count_from_submission():
    clock = sla.Clock(T0)
    assert sla.next_deadline(URGENT, clock, 0) == T0 + dt.timedelta(minutes=30)
    assert sla.next_deadline(URGENT, clock, 2) == T0 + 2 * H


def test_info_request_pauses_the_sla_clock():
    clock = sla.pause(sla.Clock(T0), T0 + H)
    assert sla.next_deadline(ROUTINE, clock, 1) is None
    assert sla.elapsed(clock, T0 + 5 * H) == H
    resumed = sla.resume(clock, T0 + 3 * H)
    assert resumed.paused_seconds == 2 * 3600
    assert sla.next_deadline(ROUTINE, resumed, 1) == T0 + 6 * H
    assert sla.elapsed(resumed, T0 + 4 * H) == 2 * H


def test_pauses_add_up():
    clock = sla.Clock(T0)
    clock = sla.resume(sla.pause(clock, T0 + H), T0 + 2 * H)
    clock = sla.resume(sla.pause(clock, T0 + 3 * H), T0 + 3 * H + dt.timedelta(minutes=30))
    assert clock.paused_seconds == 5400
    assert sla.next_deadline(ROUTINE, clock, 2) == T0 + 6 * H + dt.timedelta(minutes=90)


def test_pause_and_resume_are_idempotent():
    paused = sla.pause(sla.Clock(T0), T0 + H)
    assert sla.pause(paused, T0 + 2 * H) == paused
    running = sla.Clock(T0, 60)
    assert sla.resume(running, T0 + H) == running


def test_standing_shows_time_left_then_overdue_and_breach():
    clock = sla.Clock(T0)
    fresh = sla.standing(ROUTINE, clock, T0 + H)
    assert fresh.left == 3 * H and not fresh.at_risk and not fresh.breached
    late = sla.standing(ROUTINE, clock, T0 + 5 * H)
    assert late.left == -H and late.at_risk and not late.breached
    assert sla.standing(ROUTINE, clock, T0 + 6 * H).breached
    assert sla.format_left(-H - dt.timedelta(minutes=5)) == (True, 1, 5)


def test_paused_standing_is_frozen():
    clock = sla.pause(sla.Clock(T0), T0 + H)
    assert sla.standing(ROUTINE, clock, T0 + 10 * H).left == 3 * H
    assert sla.standing(ROUTINE, clock, T0 + 10 * H).paused
