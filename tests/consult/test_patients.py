import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from consult.models import Guardian, Patient
from consult.selectors import patients_visible_to
from consult.services import national_id_hash
from core.models import AuditEvent
from tests.factories import PatientFactory


@pytest.fixture
def doctor_client(client, county_doctor):
    client.force_login(county_doctor)
    client.cookies["django_language"] = "en"
    return client


def child_form(**overrides):
    data = {
        "name": "王一诺",
        "sex": "F",
        "birth_date": "2025-06-01",
        "mrn": "YJ-778899",
        "weight_kg": "9.80",
        "weighed_on": "2026-11-20",
        "national_id": "330324202506010027",
        "allergy_status": "listed",
        "allergies": "青霉素",
        "guardians-TOTAL_FORMS": "2",
        "guardians-INITIAL_FORMS": "0",
        "guardians-MIN_NUM_FORMS": "1",
        "guardians-MAX_NUM_FORMS": "1000",
        "guardians-0-name": "王秀英",
        "guardians-0-relation": "mother",
        "guardians-0-mobile": "13812345678",
        "guardians-1-name": "王建国",
        "guardians-1-relation": "father",
        "guardians-1-mobile": "+8613912345678",
    }
    return data | overrides


def test_doctor_registers_a_child_with_guardians(doctor_client, county_doctor):
    response = doctor_client.post(reverse("patient-create"), child_form(), follow=True)
    patient = Patient.objects.get(name="王一诺")
    assert patient.home_hospital == county_doctor.hospital
    assert patient.identifiers.get().mrn == "YJ-778899"
    assert str(patient.weights.get().weight_kg) == "9.80"
    assert list(patient.guardians.values_list("name", flat=True)) == ["王秀英", "王建国"]
    body = response.content.decode()
    assert "王一诺" in body and "王秀英" in body
    assert AuditEvent.objects.filter(action="create", patient=patient).exists()


def test_national_id_is_kept_only_as_a_keyed_hash_and_never_shown(doctor_client):
    response = doctor_client.post(reverse("patient-create"), child_form(), follow=True)
    patient = Patient.objects.get(name="王一诺")
    assert patient.national_id_hash == national_id_hash("330324 202506010027")
    assert "330324202506010027" not in response.content.decode()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM consult_patient")
        assert "330324202506010027" not in repr(cursor.fetchall())
    edit = doctor_client.get(reverse("patient-edit", args=[patient.pk])).content.decode()
    assert "330324202506010027" not in edit


def test_the_same_id_gives_the_same_hash_at_another_hospital():
    assert national_id_hash("33032420250601002x") == national_id_hash(" 33032420250601002X")
    assert national_id_hash("330324202506010027") != national_id_hash("330324202506010028")


def test_duplicate_mrn_is_refused_with_a_link_to_the_existing_child(doctor_client, child):
    response = doctor_client.post(reverse("patient-create"), child_form(mrn="C000123"))
    body = response.content.decode()
    assert response.status_code == 400
    assert "already registered at your hospital" in body
    assert reverse("patient-detail", args=[child.pk]) in body
    assert Patient.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("birth_date", "2099-01-01", "cannot be in the future"),
        ("weight_kg", "0.1", "at least 0.3 kg"),
        ("weight_kg", "180", "at most 150 kg"),
        ("guardians-0-mobile", "12345", "mainland China mobile number"),
    ],
)
def test_bad_input_is_refused_and_what_was_typed_is_kept(doctor_client, field, value, message):
    response = doctor_client.post(reverse("patient-create"), child_form(**{field: value}))
    body = response.content.decode()
    assert response.status_code == 400
    assert message in body
    assert 'value="王一诺"' in body
    assert 'value="王秀英"' in body
    assert not Patient.objects.exists()


def test_a_child_needs_at_least_one_guardian(doctor_client):
    data = child_form(**{"guardians-TOTAL_FORMS": "0"})
    response = doctor_client.post(reverse("patient-create"), data)
    assert response.status_code == 400
    assert "Please submit at least 1 form" in response.content.decode()


def test_child_page_shows_pediatric_age_and_writes_a_view_row(doctor_client, county_doctor):
    patient = PatientFactory(
        home_hospital=county_doctor.hospital,
        birth_date=timezone.localdate() - dt.timedelta(days=20),
    )
    body = doctor_client.get(reverse("patient-detail", args=[patient.pk])).content.decode()
    assert "20 days" in body
    row = AuditEvent.objects.get(action="view", patient=patient)
    assert row.user == county_doctor
    assert row.hospital == county_doctor.hospital
    assert row.request_id


def test_outsider_gets_404_and_a_denied_row(client, outsider, child):
    client.force_login(outsider)
    assert client.get(reverse("patient-detail", args=[child.pk])).status_code == 404
    assert client.get(reverse("patient-edit", args=[child.pk])).status_code == 404
    denied = AuditEvent.objects.filter(user=outsider, action="denied")
    assert denied.count() == 2
    assert not AuditEvent.objects.filter(action="view", patient=child).exists()


def test_doctor_edits_guardians_in_place(doctor_client, child):
    mother = Guardian.objects.create(
        patient=child, name="李妈妈", relation="mother", mobile="13800000001"
    )
    data = {
        "name": child.name,
        "sex": child.sex,
        "birth_date": "2024-03-15",
        "allergy_status": "not_recorded",
        "allergies": "",
        "guardians-TOTAL_FORMS": "2",
        "guardians-INITIAL_FORMS": "1",
        "guardians-MIN_NUM_FORMS": "1",
        "guardians-MAX_NUM_FORMS": "1000",
        "guardians-0-id": mother.pk,
        "guardians-0-patient": child.pk,
        "guardians-0-name": "李秀兰",
        "guardians-0-relation": "mother",
        "guardians-0-mobile": "13800000002",
        "guardians-1-name": "李爷爷",
        "guardians-1-relation": "grandparent",
        "guardians-1-mobile": "13900000003",
    }
    response = doctor_client.post(reverse("patient-edit", args=[child.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    mother.refresh_from_db()
    assert mother.name == "李秀兰" and mother.mobile == "13800000002"
    assert child.guardians.count() == 2


def test_list_shows_only_the_doctors_hospital(doctor_client, child, other_hospital):
    PatientFactory(name="外院患儿", home_hospital=other_hospital)
    body = doctor_client.get(reverse("patient-list")).content.decode()
    assert child.name in body
    assert "外院患儿" not in body


def test_patient_list_queries_do_not_grow_with_rows(
    doctor_client, county_hospital, django_assert_max_num_queries
):
    PatientFactory.create_batch(2, home_hospital=county_hospital)
    with django_assert_max_num_queries(10) as few:
        doctor_client.get(reverse("patient-list"))
    PatientFactory.create_batch(20, home_hospital=county_hospital)
    with django_assert_max_num_queries(len(few.captured_queries)):
        doctor_client.get(reverse("patient-list"))


def test_selectors_give_each_role_what_it_may_see(
    child, county_doctor, township_doctor, outsider, specialist, coordinator, alliance_admin
):
    assert list(patients_visible_to(county_doctor)) == [child]
    assert not patients_visible_to(township_doctor).exists()
    assert not patients_visible_to(outsider).exists()
    assert list(patients_visible_to(alliance_admin)) == [child]


def test_a_child_with_an_mrn_at_my_hospital_is_visible_to_me(child, outsider):
    child.identifiers.create(hospital=outsider.hospital, mrn="W-1")
    assert list(patients_visible_to(outsider)) == [child]
