"""/api/consultations/: the same rules as the pages."""

import pytest

from consult.models import Status
from core.models import AuditEvent
from tests.factories import ConsultationFactory, StudyFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def api(client):
    def _as(user):
        client.force_login(user)
        return client

    return _as


def test_doctor_creates_and_submits_through_the_api(api, county_doctor, child, on_call_specialist):
    study = StudyFactory(patient=child)
    client = api(county_doctor)
    created = client.post(
        "/api/consultations/",
        {
            "patient": child.pk,
            "subspecialty": "abdominal",
            "clinical_history": "腹痛",
            "question": "肠套叠？",
            "study_ids": [study.pk],
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    submitted = client.post(f"/api/consultations/{pk}/submit/")
    assert submitted.status_code == 200
    assert submitted.json()["status"] == Status.ASSIGNED
    assert submitted.json()["assigned_to"] == on_call_specialist.pk
    assert submitted.json()["seconds_left"] > 4 * 3600 - 60


def test_incomplete_submit_says_what_is_missing(api, county_doctor, child):
    case = ConsultationFactory(
        patient=child,
        hospital=child.home_hospital,
        requested_by=county_doctor,
        question="",
        with_study=False,
    )
    response = api(county_doctor).post(f"/api/consultations/{case.pk}/submit/")
    assert response.status_code == 400
    assert "the question for the specialist" in response.json()["detail"]


def test_unknown_child_is_bad_input(api, county_doctor, outsider):
    foreign_child = ConsultationFactory(hospital=outsider.hospital).patient
    response = api(county_doctor).post(
        "/api/consultations/", {"patient": foreign_child.pk}, content_type="application/json"
    )
    assert response.status_code == 400 and "patient" in response.json()


def test_outsider_gets_404_and_a_denied_row(api, assigned, outsider):
    response = api(outsider).get(f"/api/consultations/{assigned.pk}/")
    assert response.status_code == 404
    assert AuditEvent.objects.filter(
        action="denied", object_type="consultation", object_id=str(assigned.pk), user=outsider
    ).exists()
    assert api(outsider).get("/api/consultations/").json()["count"] == 0


def test_thread_over_the_api(api, in_review, county_doctor):
    client = api(county_doctor)
    posted = client.post(
        f"/api/consultations/{in_review.pk}/messages/",
        {"text": "补充"},
        content_type="application/json",
    )
    assert posted.status_code == 201
    assert [
        m["body"] for m in client.get(f"/api/consultations/{in_review.pk}/messages/").json()
    ] == ["补充"]


def test_list_query_count_is_constant(api, county_doctor, child, django_assert_max_num_queries):
    ConsultationFactory(patient=child, hospital=child.home_hospital, status=Status.ASSIGNED)
    client = api(county_doctor)
    with django_assert_max_num_queries(12) as few:
        client.get("/api/consultations/")
    for _ in range(8):
        ConsultationFactory(patient=child, hospital=child.home_hospital, status=Status.ASSIGNED)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/api/consultations/").json()["count"] == 9


def test_an_api_action_is_audited_once_by_the_service(
    api, draft, county_doctor, on_call_specialist
):
    response = api(county_doctor).post(
        f"/api/consultations/{draft.pk}/submit/", REMOTE_ADDR="10.1.2.4"
    )
    assert response.status_code == 200
    [row] = AuditEvent.objects.filter(action="update", object_id=str(draft.pk))
    assert (row.object_type, row.patient_id, row.user, row.ip) == (
        "consultation",
        draft.patient_id,
        county_doctor,
        "10.1.2.4",
    )
