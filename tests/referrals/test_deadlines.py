"""Deadline arithmetic without a database: phases, escalation, working days."""

import datetime as dt
from zoneinfo import ZoneInfo

from referrals import deadlines
from referrals.models import DEFAULT_POLICIES, Urgency

TZ = "Asia/Shanghai"
SH = ZoneInfo(TZ)


def _policy(urgency):
    v = DEFAULT_POLICIES[urgency]
    return deadlines.Policy.from_seconds(
        v["accept_seconds"], v["schedule_seconds"], v["escalate_seconds"], v["working_days"]
    )


def test_emergency_must_be_accepted_in_30_minutes_then_the_head_hears_at_45():
    start = dt.datetime(2026, 11, 25, 10, 0, tzinfo=SH)
    policy = _policy(Urgency.EMERGENCY)
    assert deadlines.next_deadline(policy, start, 0, accepting=True, tz=TZ) == start + dt.timedelta(
        minutes=30
    )
    assert deadlines.next_deadline(policy, start, 1, accepting=True, tz=TZ) == start + dt.timedelta(
        minutes=45
    )
    assert deadlines.next_deadline(policy, start, 2, accepting=True, tz=TZ) is None


def test_urgent_accept_in_4_hours_schedule_in_8():
    start = dt.datetime(2026, 11, 25, 10, 0, tzinfo=SH)
    policy = _policy(Urgency.URGENT)
    assert deadlines.due(policy, start, accepting=True, tz=TZ) == start + dt.timedelta(hours=4)
    assert deadlines.due(policy, start, accepting=False, tz=TZ) == start + dt.timedelta(hours=8)


def test_elective_counts_two_working_days_over_a_weekend():
    friday_afternoon = dt.datetime(2026, 11, 27, 15, 0, tzinfo=SH)  # a Friday
    due = deadlines.due(_policy(Urgency.ELECTIVE), friday_afternoon, accepting=True, tz=TZ)
    assert due.astimezone(SH) == dt.datetime(2026, 12, 1, 15, 0, tzinfo=SH)  # Tuesday


def test_elective_requested_on_a_saturday_starts_counting_on_monday():
    saturday = dt.datetime(2026, 11, 28, 9, 30, tzinfo=SH)
    due = deadlines.due(_policy(Urgency.ELECTIVE), saturday, accepting=True, tz=TZ)
    assert due.astimezone(SH) == dt.datetime(2026, 12, 2, 0, 0, tzinfo=SH)  # Mon+Tue counted


def test_working_days_off_is_plain_clock_time():
    saturday = dt.datetime(2026, 11, 28, 9, 30, tzinfo=SH)
    span = dt.timedelta(days=2)
    assert deadlines.add_time(saturday, span, working_days=False, tz=TZ) == saturday + span
