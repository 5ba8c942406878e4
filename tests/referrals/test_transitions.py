"""Every move of the referral state machine, and every refusal with its message."""

import datetime as dt

import pytest
from django.utils import timezone

from consult.models import TransferUrgency
from core.audit import SYSTEM
from core.models import Notification
from referrals.models import TRANSITIONS, DeclineReason, Referral, ReferralEvent, Status, Transport
from referrals.services import (
    ReferralError,
    referral_accept,
    referral_arrive,
    referral_cancel,
    referral_complete,
    referral_create,
    referral_decline,
    referral_depart,
    referral_redirect,
    referral_schedule,
    referral_transition,
)
from tests.factories import DepartmentFactory, HospitalFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def _timeline(referral):
    return list(
        referral.events.filter(kind=ReferralEvent.Kind.STATUS)
        .order_by("id")
        .values_list("to_status", flat=True)
    )


def _schedule(referral, user, **overrides):
    values = {
        "scheduled_for": timezone.now() + dt.timedelta(days=1),
        "slot": "门诊3号诊室",
        "report_to": "门诊楼2楼小儿外科",
        "transport": Transport.LOCAL_AMBULANCE,
        "what_to_bring": "医保卡",
        **overrides,
    }
    return referral_schedule(referral=referral, actor=user, context=SYSTEM, **values)


def test_request_from_a_consultation_attaches_the_signed_report_and_studies(
    requested, reported, county_doctor, surgery, surgeon, surgery_head, coordinator
):
    assert requested.status == Status.REQUESTED
    assert requested.report.impression.startswith("回结肠型肠套叠")
    assert set(requested.studies.all()) == set(reported.studies.all())
    assert requested.source_hospital == reported.hospital
    assert requested.source_doctor == county_doctor
    assert requested.receiving_hospital == surgery.hospital
    assert requested.due_at == requested.requested_at + dt.timedelta(hours=4)
    assert _timeline(requested) == [Status.REQUESTED]
    for person in (surgeon, surgery_head, coordinator):
        assert person.notifications.filter(kind="referral_requested", channel="in_app").exists()


def test_the_whole_path_to_completion_leaves_one_event_per_change(
    requested, surgeon, county_doctor
):
    referral_accept(referral=requested, actor=surgeon, context=SYSTEM)
    assert requested.accepted_by == surgeon
    assert requested.due_at == requested.accepted_at + dt.timedelta(hours=8)
    _schedule(requested, surgeon)
    assert requested.due_at is None and requested.next_deadline is None
    referral_depart(referral=requested, actor=county_doctor, context=SYSTEM)
    referral_arrive(referral=requested, actor=surgeon, context=SYSTEM)
    referral_complete(
        referral=requested,
        actor=surgeon,
        context=SYSTEM,
        outcome_note="腹腔镜下息肉切除，术后恢复好。",
    )
    requested.refresh_from_db()
    assert requested.status == Status.COMPLETED
    assert requested.closed_at is not None and requested.arrived_at is not None
    assert _timeline(requested) == [
        Status.REQUESTED,
        Status.ACCEPTED,
        Status.SCHEDULED,
        Status.IN_TRANSIT,
        Status.ARRIVED,
        Status.COMPLETED,
    ]
    assert county_doctor.notifications.filter(kind="referral_completed").exists()


def test_a_scheduled_child_can_arrive_without_a_recorded_departure(scheduled, surgeon):
    referral_arrive(referral=scheduled, actor=surgeon, context=SYSTEM)
    assert scheduled.status == Status.ARRIVED


def test_rescheduling_keeps_the_status_and_records_the_change(scheduled, surgeon):
    later = timezone.now() + dt.timedelta(days=5)
    _schedule(scheduled, surgeon, scheduled_for=later, report_to="住院部5楼")
    scheduled.refresh_from_db()
    assert scheduled.scheduled_for == later
    assert scheduled.report_to == "住院部5楼"
    assert _timeline(scheduled)[-2:] == [Status.SCHEDULED, Status.SCHEDULED]


def test_decline_returns_it_to_the_coordinator_who_sends_it_elsewhere(
    requested, surgeon, coordinator, cardiology
):
    referral_decline(
        referral=requested,
        actor=surgeon,
        context=SYSTEM,
        reason_code=DeclineReason.NO_BED,
        note="本周无床",
    )
    assert requested.status == Status.DECLINED
    assert requested.next_deadline is None
    warn = coordinator.notifications.get(kind="referral_declined", channel="in_app")
    assert "No bed or slot available: 本周无床" in warn.body
    referral_redirect(referral=requested, actor=coordinator, context=SYSTEM, department=cardiology)
    requested.refresh_from_db()
    assert requested.status == Status.REQUESTED
    assert requested.receiving_department == cardiology
    assert requested.deadline_round == 2 and requested.deadline_stage == 0
    assert requested.next_deadline is not None
    assert _timeline(requested) == [Status.REQUESTED, Status.DECLINED, Status.REQUESTED]


def test_cancelling_before_arrival_is_allowed_with_a_reason(scheduled, county_doctor, surgeon):
    referral_cancel(
        referral=scheduled, actor=county_doctor, context=SYSTEM, reason="家属决定在本地治疗"
    )
    assert scheduled.status == Status.CANCELLED
    assert scheduled.closed_at is not None
    assert surgeon.notifications.filter(kind="referral_cancelled").exists()


def test_the_table_has_no_way_out_of_completed_or_cancelled():
    assert TRANSITIONS[Status.COMPLETED] == set()
    assert TRANSITIONS[Status.CANCELLED] == set()
    assert Status.CANCELLED not in TRANSITIONS[Status.ARRIVED]


# --- refusals -----------------------------------------------------------------------------


def test_refused_inactive_hospital(reported, county_doctor):
    closed = HospitalFactory(is_active=False, name_en="Closed Hospital")
    department = DepartmentFactory(hospital=closed, accepts_referrals=True)
    with pytest.raises(ReferralError, match="Closed Hospital is not an active member"):
        referral_create(
            actor=county_doctor,
            context=SYSTEM,
            consultation=reported,
            department=department,
            urgency=TransferUrgency.URGENT,
            reason="x",
        )
    assert not Referral.objects.exists()


@pytest.mark.parametrize("field", ["accepts_referrals", "is_active"])
def test_refused_department_that_does_not_accept_referrals(
    reported, county_doctor, expert_center, field
):
    flags = {"accepts_referrals": True, "is_active": True, field: False}
    department = DepartmentFactory(hospital=expert_center, name_en="Radiology", **flags)
    with pytest.raises(ReferralError, match="Radiology does not accept referrals"):
        referral_create(
            actor=county_doctor,
            context=SYSTEM,
            consultation=reported,
            department=department,
            urgency=TransferUrgency.URGENT,
            reason="x",
        )


def test_refused_without_a_reason_or_by_another_hospital(
    reported, outsider, county_doctor, surgery
):
    with pytest.raises(ReferralError, match="Give the clinical reason"):
        referral_create(
            actor=county_doctor,
            context=SYSTEM,
            consultation=reported,
            department=surgery,
            urgency="urgent",
            reason=" ",
        )
    with pytest.raises(ReferralError, match="Only the referring hospital or a coordinator"):
        referral_create(
            actor=outsider,
            context=SYSTEM,
            consultation=reported,
            department=surgery,
            urgency="urgent",
            reason="x",
        )


def test_a_coordinator_opens_one_directly_but_a_doctor_cannot(
    child, coordinator, county_doctor, surgery
):
    referral = referral_create(
        actor=coordinator,
        context=SYSTEM,
        patient=child,
        department=surgery,
        urgency="elective",
        reason="择期手术",
    )
    assert referral.consultation is None and referral.source_hospital == child.home_hospital
    assert referral.source_doctor is None
    with pytest.raises(ReferralError, match="Only a coordinator can open a referral"):
        referral_create(
            actor=county_doctor,
            context=SYSTEM,
            patient=child,
            department=surgery,
            urgency="elective",
            reason="x",
        )


def test_refused_scheduling_before_acceptance(requested, surgeon):
    with pytest.raises(ReferralError, match="Accept the referral before scheduling it"):
        _schedule(requested, surgeon)
    requested.refresh_from_db()
    assert requested.status == Status.REQUESTED


def test_refused_a_scheduled_date_in_the_past(accepted, surgeon):
    with pytest.raises(ReferralError, match="in the past"):
        _schedule(accepted, surgeon, scheduled_for=timezone.now() - dt.timedelta(minutes=1))
    with pytest.raises(ReferralError, match="where the family should report"):
        _schedule(accepted, surgeon, report_to="")


def test_double_acceptance_one_wins_the_other_is_told(requested, surgeon, surgery_head):
    # Both opened the page while it was requested; the head clicks a moment later.
    stale = Referral.objects.get(pk=requested.pk)
    referral_accept(referral=requested, actor=surgeon, context=SYSTEM)
    with pytest.raises(ReferralError, match="钱医生 accepted this referral a moment before you"):
        referral_accept(referral=stale, actor=surgery_head, context=SYSTEM)
    with pytest.raises(ReferralError, match="accepted this referral a moment before you"):
        referral_accept(
            referral=Referral.objects.get(pk=requested.pk), actor=surgery_head, context=SYSTEM
        )
    requested.refresh_from_db()
    assert requested.accepted_by == surgeon
    assert requested.events.filter(to_status=Status.ACCEPTED).count() == 1


def test_a_stale_move_is_refused_not_overwritten(requested, surgeon, coordinator):
    stale = Referral.objects.get(pk=requested.pk)
    referral_cancel(referral=requested, actor=coordinator, context=SYSTEM, reason="家属拒绝转诊")
    with pytest.raises(ReferralError, match="Somebody else changed this referral"):
        referral_transition(referral=stale, to=Status.DECLINED, actor=surgeon)
    assert Referral.objects.get(pk=requested.pk).status == Status.CANCELLED


def test_refused_cancelling_after_arrival(scheduled, surgeon, county_doctor):
    referral_arrive(referral=scheduled, actor=surgeon, context=SYSTEM)
    with pytest.raises(ReferralError, match="cannot be cancelled after arrival"):
        referral_cancel(referral=scheduled, actor=county_doctor, context=SYSTEM, reason="x")


def test_refused_moves_the_table_does_not_allow(requested, surgeon):
    with pytest.raises(ReferralError, match="you cannot record the arrival"):
        referral_arrive(referral=requested, actor=surgeon, context=SYSTEM)
    with pytest.raises(ReferralError, match="you cannot complete the referral"):
        referral_complete(referral=requested, actor=surgeon, context=SYSTEM, outcome_note="")


def test_completing_needs_an_outcome(scheduled, surgeon):
    referral_arrive(referral=scheduled, actor=surgeon, context=SYSTEM)
    with pytest.raises(ReferralError, match="Write the outcome"):
        referral_complete(referral=scheduled, actor=surgeon, context=SYSTEM, outcome_note="")


def test_only_the_receiving_department_answers(requested, county_doctor, outsider, specialist):
    for user in (county_doctor, outsider, specialist):
        with pytest.raises(ReferralError, match="Only the receiving department"):
            referral_accept(referral=requested, actor=user, context=SYSTEM)


def test_a_coordinator_of_the_receiving_hospital_may_answer_for_the_department(
    requested, coordinator
):
    referral_accept(referral=requested, actor=coordinator, context=SYSTEM)
    assert requested.status == Status.ACCEPTED


def test_decline_needs_a_reason_and_redirect_needs_another_department(
    requested, surgeon, coordinator, surgery
):
    with pytest.raises(ReferralError, match="Say why"):
        referral_decline(
            referral=requested, actor=surgeon, context=SYSTEM, reason_code=DeclineReason.OTHER
        )
    referral_decline(
        referral=requested, actor=surgeon, context=SYSTEM, reason_code=DeclineReason.NOT_INDICATED
    )
    with pytest.raises(ReferralError, match="has just declined"):
        referral_redirect(referral=requested, actor=coordinator, context=SYSTEM, department=surgery)
    with pytest.raises(ReferralError, match="Only a coordinator"):
        referral_redirect(referral=requested, actor=surgeon, context=SYSTEM, department=surgery)


def test_notices_are_outbox_rows_with_links(requested, surgeon, county_doctor):
    referral_accept(referral=requested, actor=surgeon, context=SYSTEM)
    notice = Notification.objects.get(
        recipient=county_doctor, kind="referral_accepted", channel="in_app"
    )
    assert notice.url == f"/referrals/{requested.pk}/"
    assert notice.object_type == "referral" and notice.object_id == str(requested.pk)


@pytest.mark.django_db(transaction=True)
def test_two_people_accepting_at_the_same_moment_one_wins(requested, surgeon, surgery_head):
    import threading

    from django.db import connection

    barrier = threading.Barrier(2)
    outcomes = {}

    def accept(user):
        referral = Referral.objects.get(pk=requested.pk)  # both read "requested"
        barrier.wait()
        try:
            referral_accept(referral=referral, actor=user, context=SYSTEM)
            outcomes[user.username] = "won"
        except ReferralError as exc:
            outcomes[user.username] = str(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(u,)) for u in (surgeon, surgery_head)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes.values()).count("won") == 1
    loser = next(v for v in outcomes.values() if v != "won")
    assert "accepted this referral a moment before you" in loser
    assert ReferralEvent.objects.filter(referral=requested, to_status=Status.ACCEPTED).count() == 1
