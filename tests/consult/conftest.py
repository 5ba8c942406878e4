"""Consultation fixtures on top of the named cast."""

import pytest

from consult.models import Role, Subspecialty
from core.audit import SYSTEM
from tests.factories import ConsultationFactory, UserFactory, on_call


@pytest.fixture
def draft(county_doctor, child):
    """A complete draft from the county doctor about the county child (abdominal)."""
    return ConsultationFactory(
        patient=child, hospital=child.home_hospital, requested_by=county_doctor
    )


@pytest.fixture
def on_call_specialist(specialist):
    on_call(specialist, Subspecialty.ABDOMINAL)
    return specialist


@pytest.fixture
def second_specialist(expert_center):
    colleague = UserFactory(
        username="specialist2",
        full_name="吴医生",
        role=Role.SPECIALIST,
        hospital=expert_center,
        subspecialties=[Subspecialty.ABDOMINAL, Subspecialty.GENERAL],
    )
    on_call(colleague, Subspecialty.ABDOMINAL)
    return colleague


@pytest.fixture
def assigned(draft, on_call_specialist, coordinator):
    from consult.consultations.services import consultation_submit

    consultation_submit(context=SYSTEM, consultation=draft, actor=draft.requested_by)
    draft.refresh_from_db()
    return draft


@pytest.fixture
def in_review(assigned, on_call_specialist):
    from consult.consultations.services import consultation_accept

    consultation_accept(context=SYSTEM, consultation=assigned, actor=on_call_specialist)
    assigned.refresh_from_db()
    return assigned
