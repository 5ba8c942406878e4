"""Routing: on call for the subspecialty, fewest open cases, longest idle, then general,
then the coordinator's unassigned queue."""

import datetime as dt

import pytest
from django.utils import timezone

from consult.consultations.routing import route_pick
from consult.consultations.services import consultation_submit
from consult.models import ConsultationAssignment, Role, Status, Subspecialty
from core.audit import SYSTEM
from tests.factories import ConsultationFactory, UserFactory, on_call

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def _specialist(name, *codes):
    return UserFactory(username=name, role=Role.SPECIALIST, subspecialties=list(codes))


def test_routes_to_the_on_call_specialist_with_fewest_open_cases():
    busy, free = _specialist("busy", "abdominal"), _specialist("free", "abdominal")
    on_call(busy, Subspecialty.ABDOMINAL)
    on_call(free, Subspecialty.ABDOMINAL)
    ConsultationFactory(status=Status.IN_REVIEW, assigned_to=busy)
    assert route_pick(subspecialty="abdominal", at=timezone.now()) == free


def test_ties_go_to_the_longest_idle_specialist():
    recent, idle = _specialist("recent", "abdominal"), _specialist("idle", "abdominal")
    for s in (recent, idle):
        on_call(s, Subspecialty.ABDOMINAL)
    old_case = ConsultationFactory(status=Status.REPORTED)
    ConsultationAssignment.objects.create(
        consultation=old_case, specialist=recent, at=timezone.now() - dt.timedelta(minutes=5)
    )
    ConsultationAssignment.objects.create(
        consultation=old_case, specialist=idle, at=timezone.now() - dt.timedelta(hours=5)
    )
    assert route_pick(subspecialty="abdominal", at=timezone.now()) == idle


def test_never_assigned_counts_as_most_idle():
    seasoned, newcomer = _specialist("seasoned", "abdominal"), _specialist("new", "abdominal")
    for s in (seasoned, newcomer):
        on_call(s, Subspecialty.ABDOMINAL)
    ConsultationAssignment.objects.create(
        consultation=ConsultationFactory(status="closed"), specialist=seasoned, at=timezone.now()
    )
    assert route_pick(subspecialty="abdominal", at=timezone.now()) == newcomer


def test_off_call_specialists_are_not_routed_to():
    off = _specialist("off", "abdominal")
    on_call(off, Subspecialty.ABDOMINAL).delete()
    assert route_pick(subspecialty="abdominal", at=timezone.now()) is None


def test_falls_back_to_general_then_to_the_queue():
    general = _specialist("gen", "general")
    shift = on_call(general, Subspecialty.GENERAL)
    assert route_pick(subspecialty="cardiac", at=timezone.now()) == general
    shift.delete()
    assert route_pick(subspecialty="cardiac", at=timezone.now()) is None


def test_excluded_specialist_is_skipped():
    only = _specialist("only", "abdominal")
    on_call(only, Subspecialty.ABDOMINAL)
    assert route_pick(subspecialty="abdominal", at=timezone.now(), exclude=[only.pk]) is None


def test_submit_routes_and_records_the_assignment(draft, on_call_specialist):
    consultation_submit(context=SYSTEM, consultation=draft, actor=draft.requested_by)
    draft.refresh_from_db()
    assert draft.status == Status.ASSIGNED
    assert draft.assigned_to == on_call_specialist
    assert draft.assignments.get().specialist == on_call_specialist
    assert draft.next_deadline is not None


def test_submit_without_anyone_on_call_waits_in_the_queue_and_tells_coordinators(
    draft, coordinator
):
    consultation_submit(context=SYSTEM, consultation=draft, actor=draft.requested_by)
    draft.refresh_from_db()
    assert draft.status == Status.SUBMITTED and draft.assigned_to is None
    assert coordinator.notifications.filter(kind="queue", channel="in_app").exists()
