import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from consult.models import Patient, User
from core.models import AuditEvent
from tests.factories import PatientFactory


@pytest.fixture
def api():
    client = APIClient()
    client.credentials(HTTP_ACCEPT_LANGUAGE="en")
    return client


def as_user(api, user):
    api.force_authenticate(user)
    return api


def new_child(**overrides):
    data = {
        "name": "周梓萱",
        "sex": "F",
        "birth_date": "2023-02-10",
        "mrn": "API-0001",
        "weight_kg": "12.40",
        "guardians": [{"name": "周芳", "relation": "mother", "mobile": "13700001111"}],
    }
    return data | overrides


def test_doctor_registers_and_reads_a_child_through_the_api(api, county_doctor):
    as_user(api, county_doctor)
    created = api.post("/api/patients/", new_child(national_id="330100202302100011"), format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["mrns"] == {county_doctor.hospital.code: "API-0001"}
    assert "national_id" not in body and "330100202302100011" not in created.content.decode()
    assert body["guardians"][0]["mobile"] == "13700001111"
    detail = api.get(f"/api/patients/{body['id']}/")
    assert detail.json()["name"] == "周梓萱"
    assert AuditEvent.objects.filter(action="view", patient_id=body["id"]).count() == 1


def test_token_authentication_works(county_doctor, child):
    token = Token.objects.create(user=county_doctor)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get("/api/patients/")
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [child.pk]


def test_outsider_gets_404_and_a_denied_row_from_the_api(api, outsider, child):
    as_user(api, outsider)
    assert api.get(f"/api/patients/{child.pk}/").status_code == 404
    assert api.get(f"/api/patients/{child.pk}/guardians/").status_code == 404
    assert api.get("/api/patients/").json()["count"] == 0
    assert AuditEvent.objects.filter(user=outsider, action="denied").count() == 2


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"birth_date": "2099-01-01"}, "birth_date", "cannot be in the future"),
        ({"weight_kg": "0.2"}, "weight_kg", "greater than or equal to 0.3"),
        ({"weight_kg": "151"}, "weight_kg", "less than or equal to 150"),
        (
            {"guardians": [{"name": "x", "relation": "mother", "mobile": "555"}]},
            "guardians",
            "mobile",
        ),
        ({"guardians": []}, "guardians", "at least one guardian"),
    ],
)
def test_bad_child_input_gets_field_messages(api, county_doctor, overrides, field, message):
    as_user(api, county_doctor)
    response = api.post("/api/patients/", new_child(**overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert message in str(response.json()[field])
    assert not Patient.objects.exists()


def test_unknown_hospital_is_refused(api, alliance_admin):
    as_user(api, alliance_admin)
    response = api.post("/api/patients/", new_child(hospital="NOPE"), format="json")
    assert response.status_code == 400
    assert "Unknown hospital." in response.json()["hospital"]


def test_duplicate_mrn_answers_409_naming_the_existing_child(api, county_doctor, child):
    as_user(api, county_doctor)
    response = api.post("/api/patients/", new_child(mrn="C000123"), format="json")
    assert response.status_code == 409
    assert response.json()["existing_patient"] == child.pk


def test_messages_follow_the_users_language(county_doctor):
    client = APIClient()
    client.force_authenticate(county_doctor)
    response = client.post(
        "/api/patients/",
        new_child(birth_date="2099-01-01"),
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert "出生日期不能晚于今天" in str(response.json()["birth_date"])


def test_guardian_is_added_through_the_api(api, county_doctor, child):
    as_user(api, county_doctor)
    response = api.post(
        f"/api/patients/{child.pk}/guardians/",
        {"name": "李爸爸", "relation": "father", "mobile": "13611112222"},
        format="json",
    )
    assert response.status_code == 201
    assert [g["name"] for g in response.json()] == ["李爸爸"]


def test_users_api_is_for_the_alliance_admin_only(
    api, county_doctor, alliance_admin, county_hospital
):
    as_user(api, county_doctor)
    assert api.get("/api/users/").status_code == 403
    as_user(api, alliance_admin)
    created = api.post(
        "/api/users/",
        {
            "username": "api_doc",
            "full_name": "吴医生",
            "role": "referring_doctor",
            "hospital": county_hospital.code,
            "password": "A-long-enough-pass-77",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    assert User.objects.get(username="api_doc").check_password("A-long-enough-pass-77")
    missing = api.post(
        "/api/users/",
        {
            "username": "x2",
            "full_name": "x",
            "role": "specialist",
            "password": "A-long-enough-pass-77",
        },
        format="json",
    )
    assert "must belong to a hospital" in str(missing.json()["hospital"])


def test_hospitals_are_listed_to_members_and_written_by_the_admin(
    api, county_doctor, alliance_admin
):
    as_user(api, county_doctor)
    assert api.get("/api/hospitals/").status_code == 200
    payload = {
        "code": "NEW",
        "name_zh": "新医院",
        "tier": "township",
        "province": "浙江省",
        "city": "温州市",
    }
    assert api.post("/api/hospitals/", payload, format="json").status_code == 403
    as_user(api, alliance_admin)
    assert api.post("/api/hospitals/", payload, format="json").status_code == 201


def test_patient_api_list_queries_do_not_grow(
    api, county_doctor, county_hospital, django_assert_max_num_queries
):
    as_user(api, county_doctor)
    PatientFactory.create_batch(2, home_hospital=county_hospital)
    with django_assert_max_num_queries(12) as few:
        api.get("/api/patients/")
    PatientFactory.create_batch(15, home_hospital=county_hospital)
    with django_assert_max_num_queries(len(few.captured_queries)):
        api.get("/api/patients/")


def test_openapi_schema_and_docs_are_served(client, county_doctor):
    client.force_login(county_doctor)
    schema = client.get(reverse("api-schema"))
    assert schema.status_code == 200
    assert b"/api/patients/" in schema.content
    assert client.get(reverse("api-docs")).status_code == 200
