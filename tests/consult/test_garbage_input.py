"""Garbage in query strings, URL parts, cookies and form posts of the pages and the API:
a 4xx with the reason, never a server error. PostgreSQL cannot store or compare text with
a NUL character, so a NUL anywhere a request carries text is refused before any view."""

import pytest
from django.db import transaction

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

REASON = "The request contains a NUL character, which is not allowed."
GARBAGE = ["\x00", "%00", "abc", "-1", "9" * 30, "𠀀" * 300, "' OR 1=1 --", "a\x00b"]
QUERIES = [
    "/api/consultations/?status={}",
    "/api/patients/?search={}",
    "/patients/?q={}",
    "/patients/?page={}",
    "/directory/hospitals/?q={}&tier={}",
    "/directory/users/?q={}&role={}",
    "/directory/roster/?subspecialty={}",
    "/worklist/?q={}",
    "/consultations/?q={}&status={}",
    "/consultations/new/?patient={}",
    "/referrals/?status={}",
    "/referrals/new/?consultation={}",
    "/referrals/new/?patient={}",
    "/audit/?q={}",
    "/notifications/?page={}",
    "/imaging/unmatched/?q={}",
    "/viewer/api/studies/{}/measurements/",
    "/dicomweb/studies?PatientID={}",
    "/dicomweb/studies?StudyDate={}&limit={}",
    "/dicomweb/studies?includefield={}",
]


def _posts(draft, in_review):  # noqa: ANN001, ANN202
    return [
        (f"/consultations/{in_review.pk}/report/", {"edit_version": "x", "findings": "\x00"}),
        (f"/consultations/{draft.pk}/edit/", {"question": "\x00", "studies": "x"}),
        (f"/consultations/{draft.pk}/messages/", {"body": "\x00"}),
        (f"/consultations/{draft.pk}/cancel/", {"reason": "\x00"}),
        (f"/consultations/{in_review.pk}/reassign/", {"specialist": "x", "reason": "\x00"}),
        ("/consultations/new/", {"patient": "x"}),
        ("/consultations/new/", {"patient": "\x00"}),
        ("/patients/new/", {"name": "\x00", "birth_date": "x", "mrn": "\x00"}),
        ("/directory/hospitals/new/", {"code": "\x00", "tier": "\x00"}),
        ("/directory/users/new/", {"username": "\x00", "hospital": "\x00"}),
        ("/sla-policy/", {"priority": "\x00"}),
        ("/referrals/new/", {"consultation": "\x00"}),
        (f"/p/staff/consultations/{in_review.pk}/share/", {"guardian": "\x00"}),
        ("/login/", {"username": "\x00", "password": "\x00"}),
    ]


def _status(send) -> int | str:  # noqa: ANN001
    """The answer's status, or the exception a request raised (in its own savepoint, so one
    database error does not hide the next request's answer)."""
    try:
        with transaction.atomic():
            return send().status_code
    except Exception as exc:  # noqa: BLE001 - reported by the caller
        return repr(exc)[:120]


def test_garbage_in_queries_and_forms_never_gets_a_server_error(
    client, county_doctor, specialist, coordinator, alliance_admin, draft, in_review
):
    failed = []
    for user in (county_doctor, specialist, coordinator, alliance_admin):
        client.force_login(user)
        for garbage in GARBAGE:
            for url in QUERIES:
                url = url.replace("{}", garbage)
                status = _status(lambda url=url: client.get(url))
                if not isinstance(status, int) or status >= 500:
                    failed.append((user.username, url, status))
        for url, data in _posts(draft, in_review):
            status = _status(lambda url=url, data=data: client.post(url, data))
            if not isinstance(status, int) or status >= 500:
                failed.append((user.username, url, data, status))
    assert not failed, "\n".join(map(repr, failed))


def test_a_nul_in_a_search_box_is_400_with_the_reason(client, county_doctor):
    client.force_login(county_doctor)
    response = client.get("/patients/?q=%00")
    assert response.status_code == 400
    assert response.content.decode() == REASON


def test_a_nul_in_an_api_filter_is_400_with_the_reason_as_json(client, county_doctor):
    client.force_login(county_doctor)
    response = client.get("/api/consultations/?status=x%00")
    assert response.status_code == 400
    assert response.json() == {"detail": REASON}


def test_a_nul_in_a_url_part_is_400(client, county_doctor):
    client.force_login(county_doctor)
    response = client.get("/viewer/api/studies/1.2%00/measurements/")
    assert response.status_code == 400
    assert response.json() == {"detail": REASON}


def test_a_nul_in_a_posted_message_is_400_and_nothing_is_posted(client, draft):
    client.force_login(draft.requested_by)
    response = client.post(f"/consultations/{draft.pk}/messages/", {"body": "hello\x00"})
    assert response.status_code == 400
    assert not draft.messages.exists()


def test_a_nul_in_the_session_cookie_is_400(client, county_doctor, settings):
    client.cookies[settings.SESSION_COOKIE_NAME] = "abcdefgh\x00ijkl"
    response = client.get("/patients/")
    assert response.status_code == 400


def test_the_reason_is_in_chinese_by_default(client, county_doctor, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    client.force_login(county_doctor)
    response = client.get("/patients/?q=%00", headers={"Accept-Language": "zh-hans"})
    assert response.status_code == 400
    assert response.content.decode() == "请求中含有不允许的空字符（NUL）。"
