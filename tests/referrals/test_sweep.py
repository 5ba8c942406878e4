"""The deadline sweep with time moved: coordinator warned, then the head, each exactly once
per phase; acceptance ends the acceptance phase; a policy change moves running deadlines."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from core.audit import SYSTEM
from referrals.deadlines import referral_sweep
from referrals.models import ReferralEvent, Status
from referrals.services import (
    referral_accept,
    referral_create,
    referral_decline,
    referral_policy_update,
    referral_redirect,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
K = ReferralEvent.Kind


def _warnings(referral):
    return list(
        referral.events.exclude(kind=K.STATUS).order_by("id").values_list("kind", flat=True)
    )


@pytest.fixture
def start():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


@pytest.fixture
def emergency(start, reported, county_doctor, surgery, surgery_head, surgeon, coordinator):
    return referral_create(
        actor=county_doctor,
        context=SYSTEM,
        consultation=reported,
        department=surgery,
        urgency="emergency",
        reason="绞窄性肠梗阻可能",
    )


def test_nothing_happens_before_the_acceptance_deadline(emergency, start):
    start.shift(dt.timedelta(minutes=29))
    assert referral_sweep() == 0
    assert _warnings(emergency) == []


def test_coordinator_then_head_each_warned_once(emergency, start, coordinator, surgery_head):
    start.shift(dt.timedelta(minutes=30))
    assert referral_sweep() == 1
    assert referral_sweep() == 0, "a second sweep must not warn again"
    assert _warnings(emergency) == [K.WARN_COORDINATOR]
    warned = coordinator.notifications.filter(kind="referral_overdue")
    assert warned.filter(channel="in_app").count() == 1
    assert "acceptance overdue" in warned.first().subject
    assert not surgery_head.notifications.filter(kind="referral_overdue_head").exists()

    start.shift(dt.timedelta(minutes=15))
    referral_sweep()
    referral_sweep()
    assert _warnings(emergency) == [K.WARN_COORDINATOR, K.WARN_HEAD]
    assert (
        surgery_head.notifications.filter(kind="referral_overdue_head", channel="in_app").count()
        == 1
    )
    assert surgery_head.notifications.filter(kind="referral_overdue_head", channel="sms").exists()

    start.shift(dt.timedelta(hours=5))
    assert referral_sweep() == 0
    emergency.refresh_from_db()
    assert emergency.next_deadline is None and emergency.deadline_stage == 2


def test_acceptance_in_time_means_no_warning_and_starts_the_scheduling_clock(
    emergency, start, surgeon
):
    start.shift(dt.timedelta(minutes=20))
    referral_accept(referral=emergency, actor=surgeon, context=SYSTEM)
    start.shift(dt.timedelta(minutes=15))
    assert referral_sweep() == 0
    start.shift(dt.timedelta(minutes=50))  # 60 min to schedule an emergency
    assert referral_sweep() == 1
    assert _warnings(emergency) == [K.WARN_COORDINATOR]
    event = emergency.events.get(kind=K.WARN_COORDINATOR)
    assert event.to_status == Status.ACCEPTED and event.deadline_round == 2


def test_a_redirected_referral_gets_a_fresh_acceptance_phase(
    emergency, start, surgeon, coordinator, cardiology
):
    start.shift(dt.timedelta(minutes=31))
    referral_sweep()
    referral_decline(referral=emergency, actor=surgeon, context=SYSTEM, reason_code="no_bed")
    assert referral_sweep() == 0, "a declined referral waits for the coordinator, no deadline"
    referral_redirect(referral=emergency, actor=coordinator, context=SYSTEM, department=cardiology)
    start.shift(dt.timedelta(minutes=31))
    assert referral_sweep() == 1
    rounds = list(emergency.events.filter(kind=K.WARN_COORDINATOR).values_list("deadline_round"))
    assert rounds == [(1,), (2,)]


def test_a_sweep_that_fails_pushes_the_row_back(emergency, start, monkeypatch):
    from core.deadline_sweep import RETRY_AFTER
    from referrals import notices

    def boom(*args, **kwargs):
        raise RuntimeError("mail server down")

    monkeypatch.setattr(notices, "overdue_warning", boom)
    start.shift(dt.timedelta(minutes=30))
    assert referral_sweep() == 1
    emergency.refresh_from_db()
    assert emergency.deadline_stage == 0, "the failed step rolled back"
    assert emergency.next_deadline == timezone.now() + RETRY_AFTER
    assert _warnings(emergency) == []


def test_a_policy_change_moves_running_deadlines(emergency, alliance_admin, start):
    referral_policy_update(
        actor=alliance_admin,
        urgency="emergency",
        accept_seconds=3600,
        schedule_seconds=7200,
        escalate_seconds=600,
        working_days=False,
    )
    emergency.refresh_from_db()
    assert emergency.due_at == emergency.requested_at + dt.timedelta(hours=1)
    start.shift(dt.timedelta(minutes=45))
    assert referral_sweep() == 0


def test_the_beat_schedule_runs_the_sweep(settings):
    entries = {e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "referrals.deadline_sweep" in entries
    from referrals.tasks import referral_sweep_task

    assert referral_sweep_task.name == "referrals.deadline_sweep"


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_warn_once(start, emergency, coordinator):
    import threading

    from django.db import connection

    start.shift(dt.timedelta(minutes=31))
    barrier = threading.Barrier(2)

    def sweep():
        barrier.wait()
        try:
            referral_sweep()
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert _warnings(emergency) == [K.WARN_COORDINATOR]
    assert coordinator.notifications.filter(kind="referral_overdue", channel="in_app").count() == 1
