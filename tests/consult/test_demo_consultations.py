"""The demo consultations build on the demo alliance, in several states, idempotently."""

import pytest

from consult.demo import seed_demo_alliance
from consult.demo_consultations import seed_consultations
from consult.models import Consultation, Report, Status

pytestmark = pytest.mark.django_db


def test_demo_consultations_cover_the_workflow_and_are_idempotent():
    seed_demo_alliance()
    cases = seed_consultations()
    assert {c.status for c in cases} == {
        Status.DRAFT,
        Status.ASSIGNED,
        Status.INFO_REQUESTED,
        Status.REPORTED,
        Status.IN_REVIEW,
    }
    assert Report.objects.filter(status=Report.Status.SIGNED).count() == 1
    seed_consultations()
    assert Consultation.objects.count() == len(cases)
