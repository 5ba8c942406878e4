"""A JSON body that is not an object (`null`, a number, a string, a list) is a 400 with the
reason on every API endpoint that reads a body, never a 500."""

import pytest

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

NOT_OBJECTS = ["null", "0", '"x"', "[1]", "[]", "true"]
REASON = "The request body must be a JSON object."


@pytest.mark.parametrize("body", NOT_OBJECTS)
def test_patch_of_a_consultation_with_a_body_that_is_no_object_is_400(client, draft, body):
    client.force_login(draft.requested_by)
    response = client.patch(
        f"/api/consultations/{draft.pk}/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == REASON
    draft.refresh_from_db()
    assert draft.question  # unchanged


@pytest.mark.parametrize("body", NOT_OBJECTS)
def test_every_write_endpoint_refuses_a_body_that_is_no_object(
    client, alliance_admin, county_doctor, child, draft, body
):
    hospital = county_doctor.hospital_id
    for user, method, url in [
        (alliance_admin, "post", "/api/hospitals/"),
        (alliance_admin, "patch", f"/api/hospitals/{hospital}/"),
        (alliance_admin, "post", "/api/users/"),
        (alliance_admin, "patch", f"/api/users/{county_doctor.pk}/"),
        (county_doctor, "post", "/api/patients/"),
        (county_doctor, "post", f"/api/patients/{child.pk}/guardians/"),
        (county_doctor, "post", "/api/consultations/"),
        (county_doctor, "post", f"/api/consultations/{draft.pk}/cancel/"),
        (county_doctor, "post", f"/api/consultations/{draft.pk}/messages/"),
        (county_doctor, "post", "/api/referrals/"),
    ]:
        client.force_login(user)
        response = getattr(client, method)(url, body, content_type="application/json")
        assert (url, response.status_code) == (url, 400)
        assert response.json()["detail"] == REASON


def test_the_reason_is_in_chinese_by_default(client, draft, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    client.force_login(draft.requested_by)
    response = client.patch(
        f"/api/consultations/{draft.pk}/",
        "[1]",
        content_type="application/json",
        headers={"Accept-Language": "zh-hans"},
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "请求正文必须是一个 JSON 对象。"
