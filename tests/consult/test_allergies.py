"""Allergies are three states (not recorded, no known allergies, a list) on every page, in the
API and the form; a blank clinical field reads "not recorded" (未记录), never as a negative."""

import io
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from pypdf import PdfReader
from rest_framework.test import APIClient

from consult.consultations.report_pdf import report_pdf
from consult.models import Hospital, Patient, Report
from consult.services import patient_register
from core.audit import SYSTEM
from tests.consult.test_patients import child_form
from tests.factories import ConsultationFactory, WeightFactory

pytestmark = pytest.mark.django_db


def _fact(body: str, name: str) -> str:
    match = re.search(rf'<dd data-fact="{name}"[^>]*>(.*?)</dd>', body, re.S)
    assert match, name
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def _child_page(client, doctor, child) -> str:
    client.force_login(doctor)
    return client.get(reverse("patient-detail", args=[child.pk])).content.decode()


def test_child_page_says_not_recorded_for_blank_allergies_and_weight(client, county_doctor, child):
    body = _child_page(client, county_doctor, child)
    assert _fact(body, "allergies") == "未记录"
    assert _fact(body, "weight") == "未记录"
    assert "无已知过敏" not in body


def test_child_page_says_no_known_allergies_only_when_a_doctor_said_so(
    client, county_doctor, child
):
    child.allergy_status = "none_known"
    child.save()
    WeightFactory(patient=child, weight_kg="11.20")
    body = _child_page(client, county_doctor, child)
    assert _fact(body, "allergies") == "无已知过敏"
    assert _fact(body, "weight").startswith("11.20 kg")


def test_child_page_lists_the_allergies(client, county_doctor, child):
    child.allergy_status = "listed"
    child.allergies = "青霉素（皮疹）"
    child.save()
    assert _fact(_child_page(client, county_doctor, child), "allergies") == "青霉素（皮疹）"


def test_consultation_page_says_not_recorded_for_a_blank_history_and_question(
    client, county_doctor, child
):
    case = ConsultationFactory(
        patient=child,
        hospital=child.home_hospital,
        requested_by=county_doctor,
        clinical_history="",
        question="",
    )
    client.force_login(county_doctor)
    body = client.get(reverse("consultation-detail", args=[case.pk])).content.decode()
    history = re.search(r'<p class="clinical-history">(.*?)</p>', body, re.S)
    question = re.search(r'<p class="question">(.*?)</p>', body, re.S)
    assert history and "未记录" in history.group(1)
    assert question and "未记录" in question.group(1)


def test_report_pdf_says_not_recorded_for_a_blank_question(county_doctor, specialist, child):
    case = ConsultationFactory(
        patient=child, hospital=child.home_hospital, requested_by=county_doctor, question=""
    )
    report = Report.objects.create(
        consultation=case,
        template="general",
        findings="未见异常。",
        impression="正常。",
        author=specialist,
    )
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(report_pdf(report))).pages)
    lines = text.replace(" ", "").splitlines()
    assert lines[lines.index("咨询问题") + 1] == "未记录"


# The form ---------------------------------------------------------------------------


@pytest.fixture
def doctor_client(client, county_doctor):
    client.force_login(county_doctor)
    client.cookies["django_language"] = "en"
    return client


def test_the_form_offers_the_three_answers_and_keeps_the_one_shown(doctor_client):
    body = doctor_client.get(reverse("patient-create")).content.decode()
    for value, label in (
        ("not_recorded", "Not asked yet"),
        ("none_known", "No known allergies"),
        ("listed", "Allergies:"),
    ):
        assert f'value="{value}"' in body and label in body
    # What the page starts with is "not asked yet", never "no known allergies".
    assert re.search(r'value="not_recorded"[^>]*checked', body)


def test_doctor_states_no_known_allergies_on_the_form(doctor_client):
    data = child_form(allergy_status="none_known", allergies="")
    response = doctor_client.post(reverse("patient-create"), data)
    assert response.status_code == 302
    child = Patient.objects.get(name="王一诺")
    assert (child.allergy_status, child.allergies) == ("none_known", "")


@pytest.mark.parametrize(
    ("status", "text", "message"),
    [
        ("listed", "", "List the allergies"),
        ("none_known", "青霉素", "cannot come with a list"),
        ("not_recorded", "青霉素", "You listed allergies"),
    ],
)
def test_contradictory_allergy_answers_are_refused_keeping_what_was_typed(
    doctor_client, status, text, message
):
    data = child_form(allergy_status=status, allergies=text)
    response = doctor_client.post(reverse("patient-create"), data)
    body = response.content.decode()
    assert response.status_code == 400
    assert message in body
    assert re.search(rf'value="{status}"[^>]*checked', body)
    assert f'value="{text}"' in body if text else 'name="allergies"' in body
    assert not Patient.objects.exists()


def test_editing_keeps_and_changes_the_allergy_state(doctor_client, child):
    child.allergy_status = "none_known"
    child.save()
    page = doctor_client.get(reverse("patient-edit", args=[child.pk])).content.decode()
    assert re.search(r'value="none_known"[^>]*checked', page)


# The API and the service ------------------------------------------------------------


@pytest.fixture
def api(county_doctor):
    client = APIClient()
    client.credentials(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(county_doctor)
    return client


def _new_child(**overrides):
    data = {
        "name": "周梓萱",
        "sex": "F",
        "birth_date": "2023-02-10",
        "mrn": "API-0001",
        "guardians": [{"name": "周芳", "relation": "mother", "mobile": "13700001111"}],
    }
    return data | overrides


@pytest.mark.parametrize(
    ("sent", "status", "text"),
    [
        ({}, "not_recorded", ""),
        ({"allergies": "   "}, "not_recorded", ""),
        ({"allergies": "青霉素"}, "listed", "青霉素"),
        ({"allergy_status": "none_known"}, "none_known", ""),
        ({"allergy_status": "listed", "allergies": " 头孢 "}, "listed", "头孢"),
    ],
)
def test_api_records_and_shows_the_allergy_state(api, sent, status, text):
    created = api.post("/api/patients/", _new_child(**sent), format="json")
    assert created.status_code == 201, created.content
    shown = api.get(f"/api/patients/{created.json()['id']}/").json()
    assert (shown["allergy_status"], shown["allergies"]) == (status, text)


@pytest.mark.parametrize(
    ("sent", "field", "message"),
    [
        ({"allergy_status": "listed"}, "allergies", "List the allergies"),
        ({"allergy_status": "none_known", "allergies": "青霉素"}, "allergies", "cannot come"),
        ({"allergy_status": "not_recorded", "allergies": "青霉素"}, "allergies", "You listed"),
        ({"allergy_status": "none"}, "allergy_status", "not a valid choice"),
    ],
)
def test_api_refuses_contradictory_allergy_answers(api, sent, field, message):
    response = api.post("/api/patients/", _new_child(**sent), format="json")
    assert response.status_code == 400
    assert message in str(response.json()[field])
    assert not Patient.objects.exists()


def test_the_service_and_the_database_refuse_a_list_without_its_state(
    county_doctor, county_hospital, child, english
):
    with pytest.raises(ValidationError, match="cannot come with a list"):
        patient_register(
            actor=county_doctor,
            hospital=county_hospital,
            name="王一诺",
            sex="F",
            birth_date=child.birth_date,
            mrn="X-1",
            allergy_status="none_known",
            allergies="青霉素",
            context=SYSTEM,
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.filter(pk=child.pk).update(allergies="青霉素")


# The data migration -----------------------------------------------------------------

BEFORE = [("consult", "0007_login_security")]
AFTER = [("consult", "0008_patient_allergy_status")]


@pytest.mark.django_db(transaction=True)
def test_migration_maps_blank_to_not_recorded_and_text_to_listed_never_none_known(
    county_hospital,
):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("consult", "Patient")
    for name, allergies in (("空白", ""), ("空格", "  "), ("青霉素", "青霉素过敏"), ("无", "无")):
        old.objects.create(
            name=name,
            sex="M",
            birth_date="2024-01-01",
            home_hospital_id=county_hospital.pk,
            allergies=allergies,
        )
    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("consult", "Patient")
    got = {p.name: (p.allergy_status, p.allergies) for p in new.objects.all()}
    # Back to the latest schema for the tests that follow.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert got == {
        "空白": ("not_recorded", ""),
        "空格": ("not_recorded", ""),
        "青霉素": ("listed", "青霉素过敏"),
        # Whatever the text says, only a doctor's explicit answer is "no known allergies".
        "无": ("listed", "无"),
    }
    assert Hospital.objects.filter(pk=county_hospital.pk).exists()
