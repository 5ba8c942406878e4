"""The unmatched queue, DICOM node registration and integration tokens."""

import io

import pytest
from django.urls import reverse

from core.models import AuditEvent
from tests.factories import DicomNodeFactory, PatientFactory
from tests.viewer.dicom_builders import make_file
from viewer.ingest.services import instance_ingest
from viewer.integrations.services import token_digest
from viewer.models import DicomNode, IntegrationToken, Study


def push(sender, **kwargs) -> Study:
    data = make_file(**kwargs)
    instance_ingest(fp=io.BytesIO(data), name="IM", size=len(data), sender=sender)
    return Study.objects.latest("id")


def test_unmatched_queue_lists_the_hospitals_unmatched_studies(login, county_doctor, pacs_sender):
    push(pacs_sender, patient_id="UNKNOWN1", patient_name="Zhang^San")
    response = login(county_doctor).get(reverse("viewer:unmatched"))
    assert response.status_code == 200
    assert b"UNKNOWN1" in response.content


def test_outsiders_queue_does_not_show_another_hospitals_studies(login, outsider, pacs_sender):
    push(pacs_sender, patient_id="UNKNOWN1")
    assert b"UNKNOWN1" not in login(outsider).get(reverse("viewer:unmatched")).content


def test_doctor_files_an_unmatched_study_under_a_child(login, county_doctor, pacs_sender, child):
    study = push(pacs_sender, patient_id="UNKNOWN1")
    url = reverse("viewer:unmatched-assign", args=[study.pk])
    response = login(county_doctor).post(url, {"mrn": "C000123"}, follow=True)
    study.refresh_from_db()
    assert study.patient == child
    assert AuditEvent.objects.filter(action="update", patient=child, object_type="study").exists()
    assert b"UNKNOWN1" not in response.content


def test_an_unknown_record_number_is_refused_with_a_message(login, county_doctor, pacs_sender):
    study = push(pacs_sender, patient_id="UNKNOWN1")
    url = reverse("viewer:unmatched-assign", args=[study.pk])
    response = login(county_doctor).post(url, {"mrn": "NOPE"}, follow=True)
    assert Study.objects.get(pk=study.pk).patient is None
    messages = [str(m) for m in response.context["messages"]]
    assert messages and "record number" in messages[0] or "病历号" in messages[0]


def test_outsider_cannot_file_another_hospitals_study(login, outsider, pacs_sender, other_hospital):
    study = push(pacs_sender, patient_id="UNKNOWN1")
    PatientFactory(home_hospital=other_hospital, mrn="O1")
    url = reverse("viewer:unmatched-assign", args=[study.pk])
    assert login(outsider).post(url, {"mrn": "O1"}).status_code == 404
    assert Study.objects.get(pk=study.pk).patient is None
    assert AuditEvent.objects.filter(action="denied", user=outsider, object_type="study").exists()


@pytest.mark.parametrize("count", [1, 6])
def test_unmatched_queue_query_count(
    login, county_doctor, pacs_sender, django_assert_max_num_queries, count
):
    for n in range(count):
        push(pacs_sender, patient_id=f"U{n}")
    client = login(county_doctor)
    with django_assert_max_num_queries(7):
        client.get(reverse("viewer:unmatched"))


def test_admin_registers_a_dicom_node(login, alliance_admin, county_hospital):
    response = login(alliance_admin).post(
        reverse("viewer:nodes"),
        {
            "hospital": county_hospital.pk,
            "ae_title": "COUNTY_CT",
            "allowed_ips": "10.1.2.3, 10.8.0.0/16",
            "description": "CT room",
        },
    )
    assert response.status_code == 302
    node = DicomNode.objects.get()
    assert node.allows("10.8.4.4") and node.allows("10.1.2.3") and not node.allows("10.1.2.4")


def test_node_with_a_bad_address_is_refused_with_a_message(login, alliance_admin, county_hospital):
    response = login(alliance_admin).post(
        reverse("viewer:nodes"),
        {"hospital": county_hospital.pk, "ae_title": "X", "allowed_ips": "10.1.2.300"},
    )
    assert response.status_code == 200
    assert "10.1.2.300" in str(response.context["form"].errors)
    assert not DicomNode.objects.exists()


def test_admin_deactivates_a_node(login, alliance_admin):
    node = DicomNodeFactory()
    login(alliance_admin).post(reverse("viewer:node-deactivate", args=[node.pk]))
    node.refresh_from_db()
    assert not node.is_active


@pytest.mark.parametrize("name", ["viewer:nodes", "viewer:tokens"])
def test_doctors_may_not_manage_nodes_or_tokens(login, county_doctor, name):
    assert login(county_doctor).get(reverse(name)).status_code == 404
    assert AuditEvent.objects.filter(action="denied", user=county_doctor).exists()


def test_admin_creates_a_token_shown_once_and_stored_hashed(login, alliance_admin, county_hospital):
    client = login(alliance_admin)
    response = client.post(
        reverse("viewer:tokens"), {"hospital": county_hospital.pk, "name": "County PACS"}
    )
    secret = response.context["secret"]
    assert secret.startswith("pl_") and secret.encode() in response.content
    token = IntegrationToken.objects.get()
    assert token.token_hash == token_digest(secret)
    assert secret not in token.token_hash
    assert token.account.hospital == county_hospital
    assert not token.account.has_usable_password()
    assert secret.encode() not in client.get(reverse("viewer:tokens")).content


def test_admin_revokes_a_token(login, alliance_admin, county_hospital, client):
    client = login(alliance_admin)
    secret = client.post(
        reverse("viewer:tokens"), {"hospital": county_hospital.pk, "name": "PACS"}
    ).context["secret"]
    token = IntegrationToken.objects.get()
    client.post(reverse("viewer:token-revoke", args=[token.pk]))
    client.logout()
    response = client.get("/dicomweb/studies", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401


@pytest.mark.parametrize("count", [1, 5])
def test_token_list_query_count(
    login, alliance_admin, county_hospital, django_assert_max_num_queries, count
):
    client = login(alliance_admin)
    for n in range(count):
        client.post(reverse("viewer:tokens"), {"hospital": county_hospital.pk, "name": f"T{n}"})
    with django_assert_max_num_queries(8):
        client.get(reverse("viewer:tokens"))
