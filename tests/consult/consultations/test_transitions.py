"""The consultation state machine: every allowed move works, every other is refused."""

import itertools

import pytest

from consult.consultations.services import (
    ConsultationError,
    consultation_cancel,
    consultation_request_info,
    consultation_submit,
    consultation_transition,
    consultation_update,
    message_post,
)
from consult.models import TRANSITIONS, Consultation, ConsultationEvent, Priority, Status
from core.audit import SYSTEM
from tests.factories import ConsultationFactory, StudyFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

PAIRS = list(itertools.product(Status.values, Status.values))


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_move_follows_the_transitions_table(old, new, county_doctor):
    case = ConsultationFactory(
        status=old, requested_by=county_doctor, hospital=county_doctor.hospital
    )
    if new in TRANSITIONS[old]:
        consultation_transition(consultation=case, to=new, actor=county_doctor, reason="test")
        case.refresh_from_db()
        assert case.status == new
        event = case.events.get()
        assert (event.from_status, event.to_status, event.actor) == (old, new, county_doctor)
    else:
        with pytest.raises(ConsultationError, match="cannot become"):
            consultation_transition(consultation=case, to=new, actor=county_doctor)
        case.refresh_from_db()
        assert case.status == old
        assert not case.events.exists()


def test_a_move_based_on_a_stale_read_is_refused(draft, county_doctor):
    stale = Consultation.objects.get(pk=draft.pk)
    consultation_transition(consultation=draft, to=Status.CANCELLED, actor=county_doctor)
    with pytest.raises(ConsultationError, match="Somebody else changed this case"):
        consultation_transition(consultation=stale, to=Status.SUBMITTED, actor=county_doctor)
    assert Consultation.objects.get(pk=draft.pk).status == Status.CANCELLED


def test_submitting_without_question_or_images_lists_what_is_missing(county_doctor, child):
    case = ConsultationFactory(
        patient=child,
        hospital=child.home_hospital,
        requested_by=county_doctor,
        question="",
        with_study=False,
    )
    with pytest.raises(ConsultationError) as refused:
        consultation_submit(context=SYSTEM, consultation=case, actor=county_doctor)
    assert "the question for the specialist" in str(refused.value)
    assert "at least one study or attachment" in str(refused.value)
    assert Consultation.objects.get(pk=case.pk).status == Status.DRAFT


def test_urgent_without_reason_is_refused(draft):
    consultation_update(
        context=SYSTEM, consultation=draft, actor=draft.requested_by, priority=Priority.URGENT
    )
    with pytest.raises(ConsultationError, match="reason why this case is urgent"):
        consultation_submit(context=SYSTEM, consultation=draft, actor=draft.requested_by)


def test_a_study_of_another_child_is_refused(draft):
    other = StudyFactory()
    with pytest.raises(ConsultationError, match="another child"):
        consultation_update(
            context=SYSTEM, consultation=draft, actor=draft.requested_by, study_ids=[other.pk]
        )
    assert list(draft.studies.all()) != [other]


def test_another_hospital_cannot_submit(draft, outsider):
    with pytest.raises(ConsultationError, match="Only the referring hospital"):
        consultation_submit(context=SYSTEM, consultation=draft, actor=outsider)


def test_answering_a_closed_case_is_refused(in_review, county_doctor):
    consultation_transition(consultation=in_review, to=Status.REPORTED, actor=None)
    consultation_transition(consultation=in_review, to=Status.CLOSED, actor=county_doctor)
    with pytest.raises(ConsultationError, match="not open"):
        message_post(context=SYSTEM, consultation=in_review, actor=county_doctor, body="补充病史")


def test_cancelling_a_reported_case_is_refused(in_review, county_doctor):
    consultation_transition(consultation=in_review, to=Status.REPORTED, actor=None)
    with pytest.raises(ConsultationError, match="in this state you cannot cancel"):
        consultation_cancel(
            context=SYSTEM, consultation=in_review, actor=county_doctor, reason="不需要了"
        )


def test_answer_resumes_review_and_is_an_answer(in_review, county_doctor, on_call_specialist):
    consultation_request_info(
        context=SYSTEM, consultation=in_review, actor=on_call_specialist, question="请补充腹部平片"
    )
    in_review.refresh_from_db()
    assert in_review.status == Status.INFO_REQUESTED
    assert in_review.next_deadline is None and in_review.sla_paused_since is not None
    message = message_post(
        context=SYSTEM, consultation=in_review, actor=county_doctor, body="已上传"
    )
    in_review.refresh_from_db()
    assert message.kind == "answer"
    assert in_review.status == Status.IN_REVIEW and in_review.next_deadline is not None
    assert in_review.sla_paused_since is None
    kinds = list(in_review.events.values_list("to_status", flat=True))
    assert kinds[-2:] == [Status.INFO_REQUESTED, Status.IN_REVIEW]


def test_only_the_assigned_specialist_may_ask_for_information(in_review, second_specialist):
    with pytest.raises(ConsultationError, match="Only the specialist reading"):
        consultation_request_info(
            context=SYSTEM, consultation=in_review, actor=second_specialist, question="?"
        )


def test_every_change_is_on_the_timeline(in_review):
    kinds = list(in_review.events.order_by("id").values_list("kind", "to_status"))
    assert kinds == [
        (ConsultationEvent.Kind.STATUS, Status.SUBMITTED),
        (ConsultationEvent.Kind.STATUS, Status.ASSIGNED),
        (ConsultationEvent.Kind.STATUS, Status.IN_REVIEW),
    ]


def test_a_paused_case_cannot_go_back_to_the_queue(in_review, coordinator):
    from consult.consultations.services import consultation_reassign

    consultation_request_info(
        context=SYSTEM, consultation=in_review, actor=in_review.assigned_to, question="?"
    )
    with pytest.raises(ConsultationError, match="Choose a specialist"):
        consultation_reassign(
            context=SYSTEM,
            consultation=in_review,
            actor=coordinator,
            specialist=None,
            reason="休假",
        )
