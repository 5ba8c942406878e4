"""The referral pages and API: lists per role with their query counts, the request form from
the consultation page, actions with their messages, and the REST endpoints."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from core.audit import SYSTEM
from core.models import AuditEvent
from referrals.models import Referral, Status
from tests.factories import ReferralFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def test_consultation_page_offers_request_transfer(client, reported, county_doctor):
    client.force_login(county_doctor)
    page = client.get(reverse("consultation-detail", args=[reported.pk])).content.decode()
    assert f"/referrals/new/?consultation={reported.pk}" in page


def test_referring_doctor_requests_from_the_consultation(client, reported, county_doctor, surgery):
    client.force_login(county_doctor)
    url = reverse("referrals:new") + f"?consultation={reported.pk}"
    form = client.get(url).content.decode()
    assert "回结肠型肠套叠" in form  # the report's impression is shown
    assert 'value="urgent" selected' in form  # the specialist's urgency is the default
    response = client.post(
        url, {"department": surgery.pk, "urgency": "urgent", "reason": "需手术切除息肉"}
    )
    referral = Referral.objects.get()
    assert response.status_code == 302 and response.url == f"/referrals/{referral.pk}/"
    assert AuditEvent.objects.filter(action="create", object_type="referral").exists()


def test_request_refused_for_a_department_that_does_not_accept(
    client, reported, county_doctor, expert_center
):
    from tests.factories import DepartmentFactory

    radiology = DepartmentFactory(
        hospital=expert_center, name_en="Radiology", accepts_referrals=False
    )
    client.force_login(county_doctor)
    url = reverse("referrals:new") + f"?consultation={reported.pk}"
    response = client.post(url, {"department": radiology.pk, "urgency": "urgent", "reason": "x"})
    assert response.status_code == 200
    assert "Radiology does not accept referrals" in response.content.decode()
    assert not Referral.objects.exists()


def test_department_accepts_and_schedules_from_the_page(client, requested, surgeon):
    client.force_login(surgeon)
    client.post(reverse("referrals:action", args=[requested.pk, "accept"]))
    when = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("referrals:action", args=[requested.pk, "schedule"]),
        {"scheduled_for": when, "slot": "8床", "report_to": "住院部3楼", "transport": "own"},
        follow=True,
    )
    requested.refresh_from_db()
    assert requested.status == Status.SCHEDULED
    assert "住院部3楼" in response.content.decode()


def test_refusals_show_as_messages(client, requested, surgeon, county_doctor):
    client.force_login(surgeon)
    when = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("referrals:action", args=[requested.pk, "schedule"]),
        {"scheduled_for": when, "report_to": "门诊", "transport": "own"},
        follow=True,
    )
    assert "Accept the referral before scheduling it." in response.content.decode()
    client.force_login(county_doctor)
    response = client.post(reverse("referrals:action", args=[requested.pk, "accept"]), follow=True)
    assert "Only the receiving department can do this." in response.content.decode()


def test_detail_shows_timeline_and_attachments(client, requested, county_doctor):
    client.force_login(county_doctor)
    page = client.get(reverse("referrals:detail", args=[requested.pk])).content.decode()
    assert 'data-ws-path="/ws/referrals/' in page
    assert "Requested (waiting for the department)" in page
    assert f"/referrals/{requested.pk}/report.pdf" in page
    assert f"/referrals/{requested.pk}/sheet.pdf" in page


def _many(n, **kwargs):
    return [ReferralFactory(**kwargs) for _ in range(n)]


def test_coordinator_board_query_count_does_not_grow(
    client, coordinator, django_assert_max_num_queries
):
    client.force_login(coordinator)
    _many(3)
    with django_assert_max_num_queries(12) as few:
        assert client.get(reverse("referrals:list")).status_code == 200
    _many(12)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("referrals:list")).content.decode()
    assert page.count("data-referral=") == 15


def test_department_worklist_query_count_does_not_grow(
    client, surgeon, surgery, django_assert_max_num_queries
):
    client.force_login(surgeon)
    _many(2, receiving_department=surgery)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("referrals:list"))
    _many(10, receiving_department=surgery)
    _many(3)  # addressed elsewhere
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(reverse("referrals:list")).content.decode()
    assert page.count("data-referral=") == 12
    assert "Incoming referrals for my department" in page


def test_referring_doctor_list_shows_own_hospital_only(
    client, county_doctor, county_hospital, django_assert_max_num_queries
):
    from tests.factories import PatientFactory

    mine = [
        ReferralFactory(patient=PatientFactory(home_hospital=county_hospital)) for _ in range(4)
    ]
    _many(3)
    client.force_login(county_doctor)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("referrals:list")).content.decode()
    assert page.count("data-referral=") == len(mine)


def test_list_is_404_for_a_specialist_without_a_department(client, specialist):
    client.force_login(specialist)
    assert client.get(reverse("referrals:list")).status_code == 404


def test_api_full_path(client, reported, county_doctor, surgery, surgeon):
    client.force_login(county_doctor)
    created = client.post(
        "/api/referrals/",
        {
            "consultation": reported.pk,
            "department": surgery.pk,
            "urgency": "urgent",
            "reason": "手术",
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    client.force_login(surgeon)
    assert client.post(f"/api/referrals/{pk}/accept/").json()["status"] == "accepted"
    again = client.post(f"/api/referrals/{pk}/accept/")
    assert again.status_code == 409
    assert "accepted this referral a moment before you" in again.json()["detail"]
    past = client.post(
        f"/api/referrals/{pk}/schedule/",
        {"scheduled_for": "2020-01-01T09:00:00+08:00", "report_to": "门诊", "transport": "own"},
        content_type="application/json",
    )
    assert past.status_code == 409 and "in the past" in past.json()["detail"]
    listed = client.get("/api/referrals/").json()
    assert [r["id"] for r in listed["results"]] == [pk]


def test_api_refuses_bad_destination(client, reported, county_doctor, expert_center):
    from tests.factories import DepartmentFactory

    closed = DepartmentFactory(hospital=expert_center, accepts_referrals=False, name_en="ICU")
    client.force_login(county_doctor)
    response = client.post(
        "/api/referrals/",
        {"consultation": reported.pk, "department": closed.pk, "urgency": "urgent", "reason": "x"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "ICU does not accept referrals" in response.json()["detail"]


def test_list_views_are_audited(client, coordinator):
    client.force_login(coordinator)
    client.get(reverse("referrals:list"))
    assert AuditEvent.objects.filter(
        user=coordinator, action="view", object_type="referral_list"
    ).exists()


def test_api_list_query_count_does_not_grow(client, coordinator, django_assert_max_num_queries):
    client.force_login(coordinator)
    _many(2)
    with django_assert_max_num_queries(10) as few:
        client.get("/api/referrals/")
    _many(10)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get("/api/referrals/").json()["results"]) == 12


def test_departure_is_recorded_by_those_involved_only(client, scheduled, outsider, county_doctor):
    from referrals.services import ReferralError, referral_depart

    with pytest.raises(ReferralError, match="Only the hospitals involved or a coordinator"):
        referral_depart(referral=scheduled, actor=outsider, context=SYSTEM)
    client.force_login(county_doctor)
    client.post(reverse("referrals:action", args=[scheduled.pk, "depart"]))
    scheduled.refresh_from_db()
    assert scheduled.status == Status.IN_TRANSIT


def test_coordinator_redirects_a_declined_referral_from_the_page(
    client, requested, surgeon, coordinator, cardiology
):
    from referrals.services import referral_decline

    referral_decline(
        referral=requested, actor=surgeon, context=SYSTEM, reason_code="wrong_department"
    )
    client.force_login(coordinator)
    page = client.get(reverse("referrals:detail", args=[requested.pk])).content.decode()
    assert "Another department should take the child" in page
    client.post(
        reverse("referrals:action", args=[requested.pk, "redirect"]),
        {"department": cardiology.pk},
    )
    requested.refresh_from_db()
    assert requested.status == Status.REQUESTED and requested.receiving_department == cardiology


def test_cancel_after_arrival_is_refused_on_the_page(client, scheduled, surgeon, county_doctor):
    from referrals.services import referral_arrive

    referral_arrive(referral=scheduled, actor=surgeon, context=SYSTEM)
    client.force_login(county_doctor)
    response = client.post(
        reverse("referrals:action", args=[scheduled.pk, "cancel"]), {"reason": "x"}, follow=True
    )
    assert "cannot be cancelled after arrival" in response.content.decode()
    scheduled.refresh_from_db()
    assert scheduled.status == Status.ARRIVED
