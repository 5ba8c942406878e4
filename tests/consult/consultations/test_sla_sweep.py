"""The SLA sweep with time moved by time_machine: each ladder step once, in order."""

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from consult.consultations.services import consultation_request_info, message_post
from consult.consultations.sla import sla_policy_update, sla_sweep
from consult.models import Consultation, ConsultationEvent, SlaPolicy, Status
from core.audit import SYSTEM
from core.models import Notification

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]
K = ConsultationEvent.Kind
SLA_KINDS = [K.SLA_REMIND, K.SLA_WARN, K.SLA_BREACH, K.SLA_REASSIGN]


def _sla_events(case):
    return list(
        case.events.filter(kind__in=SLA_KINDS).order_by("id").values_list("kind", flat=True)
    )


@pytest.fixture
def start():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def test_nothing_happens_before_the_first_deadline(start, assigned):
    start.shift(dt.timedelta(hours=1, minutes=59))
    assert sla_sweep() == 0
    assert _sla_events(assigned) == []


def test_the_ladder_runs_once_each_in_order(start, assigned, second_specialist, coordinator):
    start.shift(dt.timedelta(hours=2))
    assert sla_sweep() == 1
    assert sla_sweep() == 0, "a second sweep must not remind again"
    assert _sla_events(assigned) == [K.SLA_REMIND]
    assert (
        assigned.assigned_to.notifications.filter(kind="sla_remind", channel="in_app").count() == 1
    )

    start.shift(dt.timedelta(hours=2))
    sla_sweep()
    sla_sweep()
    assert _sla_events(assigned) == [K.SLA_REMIND, K.SLA_WARN]
    assert coordinator.notifications.filter(kind="sla_warn", channel="in_app").count() == 1

    start.shift(dt.timedelta(hours=2))
    sla_sweep()
    assigned.refresh_from_db()
    assert assigned.breached_at is not None
    assert assigned.assigned_to == second_specialist
    assert _sla_events(assigned) == [K.SLA_REMIND, K.SLA_WARN, K.SLA_BREACH]

    start.shift(dt.timedelta(hours=1))
    sla_sweep()
    assigned.refresh_from_db()
    assert _sla_events(assigned) == [K.SLA_REMIND, K.SLA_WARN, K.SLA_BREACH, K.SLA_REASSIGN]
    assert assigned.assigned_to != second_specialist, "reassigned again, back to the first"
    assert coordinator.notifications.filter(kind="sla_breach", channel="in_app").count() == 2


def test_steps_missed_while_down_all_happen_on_the_first_sweep(start, assigned):
    start.shift(dt.timedelta(hours=6, minutes=30))
    assert sla_sweep() == 3
    assert _sla_events(assigned) == [K.SLA_REMIND, K.SLA_WARN, K.SLA_BREACH]


def test_information_request_stops_the_ladder_until_answered(start, in_review, county_doctor):
    specialist = in_review.assigned_to
    start.shift(dt.timedelta(hours=1))
    consultation_request_info(
        context=SYSTEM, consultation=in_review, actor=specialist, question="体重多少？"
    )
    start.shift(dt.timedelta(hours=10))
    assert sla_sweep() == 0
    message_post(context=SYSTEM, consultation=in_review, actor=county_doctor, body="12 kg")
    in_review.refresh_from_db()
    assert in_review.next_deadline == timezone.now() + dt.timedelta(hours=1)
    start.shift(dt.timedelta(hours=1))
    assert sla_sweep() == 1
    assert _sla_events(in_review) == [K.SLA_REMIND]


def test_a_signed_case_is_never_swept(start, in_review):
    from consult.consultations.services import consultation_transition

    consultation_transition(consultation=in_review, to=Status.REPORTED, actor=None)
    start.shift(dt.timedelta(hours=24))
    assert sla_sweep() == 0
    assert Consultation.objects.get(pk=in_review.pk).next_deadline is None


def test_a_failing_step_is_pushed_back_not_looped(start, assigned, monkeypatch):
    import consult.consultations.sla as sweep

    def boom(**kwargs):
        raise RuntimeError("mail server down")

    monkeypatch.setattr(sweep, "sla_step", boom)
    start.shift(dt.timedelta(hours=2))
    assert sla_sweep() == 1
    assigned.refresh_from_db()
    assert assigned.sla_stage == 0
    assert assigned.next_deadline == timezone.now() + sweep.RETRY_AFTER


def test_policy_change_moves_open_deadlines(start, assigned, alliance_admin):
    sla_policy_update(
        context=SYSTEM,
        actor=alliance_admin,
        priority="routine",
        target_seconds=600,
        breach_seconds=1200,
        remind_percent=50,
        repeat_seconds=600,
    )
    assigned.refresh_from_db()
    assert assigned.next_deadline == assigned.submitted_at + dt.timedelta(minutes=5)
    assert SlaPolicy.objects.get(priority="routine").updated_by == alliance_admin


def test_sla_notices_go_through_the_outbox(start, assigned, coordinator):
    coordinator.mobile = "13800000001"
    coordinator.save()
    start.shift(dt.timedelta(hours=4))
    sla_sweep()
    sms = Notification.objects.filter(recipient=coordinator, kind="sla_warn", channel="sms")
    assert sms.count() == 1 and sms.get().state == "pending"
