"""Who sees what: the referring hospital its own, the receiving department what is addressed
to it (and the child's studies while open and 30 days after), coordinators all; an outsider
gets 404 and a denied audit row. Every view is audited."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from consult.selectors import patients_visible_to
from core.audit import SYSTEM
from core.models import AuditEvent
from referrals.selectors import referrals_visible_to
from referrals.services import referral_arrive, referral_complete
from tests.factories import StudyFactory, UserFactory
from viewer.selectors import studies_visible_to

pytestmark = [pytest.mark.django_db]

PAGES = ["referrals:detail", "referrals:live", "referrals:sheet", "referrals:report"]


@pytest.mark.parametrize("who", ["county_doctor", "surgeon", "surgery_head", "coordinator"])
@pytest.mark.parametrize("page", PAGES)
def test_the_three_parties_open_every_page(request, client, requested, who, page):
    user = request.getfixturevalue(who)
    client.force_login(user)
    response = client.get(reverse(page, args=[requested.pk]))
    assert response.status_code == 200
    assert AuditEvent.objects.filter(
        user=user, object_type="referral", object_id=str(requested.pk), outcome="success"
    ).exists()


@pytest.mark.parametrize("who", ["outsider", "township_doctor", "specialist"])
@pytest.mark.parametrize("page", PAGES)
def test_outsiders_get_404_and_a_denied_row(request, client, requested, who, page):
    user = request.getfixturevalue(who)
    client.force_login(user)
    assert client.get(reverse(page, args=[requested.pk])).status_code == 404
    assert AuditEvent.objects.filter(
        user=user, action="denied", object_type="referral", object_id=str(requested.pk)
    ).exists()


def test_outsider_cannot_act_or_read_through_the_api(client, requested, outsider):
    client.force_login(outsider)
    assert (
        client.post(
            reverse("referrals:action", args=[requested.pk, "cancel"]), {"reason": "x"}
        ).status_code
        == 404
    )
    assert client.get(f"/api/referrals/{requested.pk}/").status_code == 404
    assert client.get("/api/referrals/").json()["results"] == []
    requested.refresh_from_db()
    assert requested.status == "requested"


def test_another_department_of_the_same_hospital_sees_nothing(requested, cardiology, expert_center):
    cardiac_surgeon = UserFactory(hospital=expert_center, department=cardiology)
    assert not referrals_visible_to(cardiac_surgeon).exists()
    assert requested.patient not in patients_visible_to(cardiac_surgeon)


def test_the_receiving_department_reads_the_child_and_studies_until_30_days_after_closing(
    requested, surgeon
):
    study = requested.studies.get()
    other_hospital_study = StudyFactory(patient=requested.patient)
    assert requested.patient in patients_visible_to(surgeon)
    assert study in studies_visible_to(surgeon)
    assert other_hospital_study in studies_visible_to(surgeon)

    from referrals.services import referral_accept, referral_schedule

    referral_accept(referral=requested, actor=surgeon, context=SYSTEM)
    referral_schedule(
        referral=requested,
        actor=surgeon,
        context=SYSTEM,
        scheduled_for=timezone.now() + dt.timedelta(hours=3),
        slot="",
        report_to="急诊",
        transport="center_team",
    )
    referral_arrive(referral=requested, actor=surgeon, context=SYSTEM)
    referral_complete(referral=requested, actor=surgeon, context=SYSTEM, outcome_note="手术顺利")
    with time_machine.travel(timezone.now() + dt.timedelta(days=29)):
        assert study in studies_visible_to(surgeon)
        assert requested.patient in patients_visible_to(surgeon)
    with time_machine.travel(timezone.now() + dt.timedelta(days=31)):
        assert study not in studies_visible_to(surgeon)
        assert requested.patient not in patients_visible_to(surgeon)
        # The referral itself (its record and timeline) stays in their list.
        assert requested in referrals_visible_to(surgeon)


def test_a_declining_department_loses_the_child_when_it_goes_elsewhere(
    requested, surgeon, coordinator, cardiology
):
    from referrals.services import referral_decline, referral_redirect

    referral_decline(referral=requested, actor=surgeon, context=SYSTEM, reason_code="no_bed")
    referral_redirect(referral=requested, actor=coordinator, context=SYSTEM, department=cardiology)
    assert requested not in referrals_visible_to(surgeon)
    assert not studies_visible_to(surgeon).filter(pk__in=requested.studies.all()).exists()


def test_referring_hospital_sees_its_own_only(requested, county_doctor, township_doctor):
    assert list(referrals_visible_to(county_doctor)) == [requested]
    assert not referrals_visible_to(township_doctor).exists()


def test_coordinator_and_admin_see_all(requested, coordinator, alliance_admin):
    assert requested in referrals_visible_to(coordinator)
    assert requested in referrals_visible_to(alliance_admin)
    assert requested.patient in patients_visible_to(coordinator)


def test_receiving_department_opens_the_attached_study_in_the_viewer(client, requested, surgeon):
    study = requested.studies.get()
    client.force_login(surgeon)
    assert client.get(f"/viewer/studies/{study.study_instance_uid}/").status_code == 200


def test_another_department_cannot_open_it_in_the_viewer(
    client, requested, cardiology, expert_center
):
    study = requested.studies.get()
    client.force_login(UserFactory(hospital=expert_center, department=cardiology))
    assert client.get(f"/viewer/studies/{study.study_instance_uid}/").status_code == 404
