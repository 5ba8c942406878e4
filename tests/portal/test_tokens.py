"""Share links: made, stored as a hash, exchanged for a cookie, expired, revoked."""

import datetime as dt

import time_machine
from django.utils.timezone import now

from consult.models import PortalShare
from consult.portal.services import portal_token_revoke, token_hash
from core.audit import SYSTEM
from core.models import Notification
from core.notify import notification_deliver
from tests.portal.conftest import link_token


def test_share_sends_an_sms_with_the_hospital_and_a_link_but_no_name_or_diagnosis(
    share_link, child, mother, signed_report
):
    share, token = share_link
    body = Notification.objects.get(kind="portal_link", address=mother.mobile).body
    assert "永嘉县人民医院" in body
    assert f"/p/{token}" in body
    assert child.name not in body and child.first_name not in body
    assert "肠套叠" not in body


def test_token_has_128_bits_or_more_and_only_its_hash_is_stored(share_link):
    share, token = share_link
    assert len(token) == 32  # 24 random bytes, URL-safe base64: 192 bits
    share.refresh_from_db()
    assert share.token_hash == token_hash(token) != token
    assert not PortalShare.objects.filter(token_hash=token).exists()


def test_link_and_code_are_scrubbed_from_the_outbox_once_sent(share_link, mother, settings):
    settings.SMS_BACKEND = "core.sms.LocmemSmsBackend"
    share, token = share_link
    row = Notification.objects.get(kind="portal_link", address=mother.mobile)
    assert notification_deliver(notification_id=row.pk)
    row.refresh_from_db()
    assert token not in row.body and row.state == "sent"


def test_default_expiry_is_30_days(share_link):
    share, _ = share_link
    assert abs(share.expires_at - (now() + dt.timedelta(days=30))) < dt.timedelta(minutes=1)


def test_opening_the_link_sets_a_private_cookie_and_redirects_to_a_clean_url(client, share_link):
    share, token = share_link
    response = client.get(f"/p/{token}")
    assert response.status_code == 302
    assert response["Location"] == "/p/"
    assert token not in response["Location"]
    cookie = response.cookies["pl_portal"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/p/"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "no-store" in response["Cache-Control"]
    page = client.get("/p/")
    assert page.status_code == 200
    assert page["Referrer-Policy"] == "no-referrer"
    assert token not in page.content.decode()


def test_cookie_is_secure_when_session_cookies_are(client, share_link, settings):
    settings.SESSION_COOKIE_SECURE = True  # the default with DEBUG=0
    _, token = share_link
    assert client.get(f"/p/{token}").cookies["pl_portal"]["secure"]


def test_expired_link_gets_a_kind_page_with_the_hospital_phone(client, share_link, english):
    _, token = share_link
    with time_machine.travel(now() + dt.timedelta(days=31)):
        response = client.get(f"/p/{token}")
    assert response.status_code == 410
    text = response.content.decode()
    assert "This link has expired" in text and "0577-88880000" in text
    assert response["Referrer-Policy"] == "no-referrer"


def test_link_expiry_follows_the_setting(client, signed_report, mother, county_doctor, settings):
    from consult.portal.services import portal_share_create

    settings.PORTAL_LINK_DAYS = 2
    portal_share_create(
        report=signed_report, guardians=[mother], user=county_doctor, context=SYSTEM
    )
    token = link_token(mother.mobile)
    with time_machine.travel(now() + dt.timedelta(days=3)):
        assert client.get(f"/p/{token}").status_code == 410


def test_revoked_link_stops_working_even_mid_visit(
    client, share_link, opened, county_doctor, english
):
    share, token = share_link
    opened()
    assert client.get("/p/report/").status_code == 200
    portal_token_revoke(share=share, user=county_doctor, context=SYSTEM)
    response = client.get("/p/report/")
    assert response.status_code == 410
    assert "This link was withdrawn" in response.content.decode()
    assert client.get(f"/p/{token}").status_code == 410


def test_the_referring_doctor_and_a_coordinator_may_revoke_an_outsider_may_not(
    share_link, login, outsider, coordinator, client
):
    share, _ = share_link
    response = login(outsider).post(f"/p/staff/shares/{share.pk}/revoke/")
    assert response.status_code == 404
    share.refresh_from_db()
    assert share.revoked_at is None
    login(coordinator).post(f"/p/staff/shares/{share.pk}/revoke/")
    share.refresh_from_db()
    assert share.revoked_by == coordinator


def test_malformed_and_unknown_links_get_a_kind_page_not_a_traceback(client, share_link, english):
    _, token = share_link
    bad = client.get("/p/abc<script>")
    assert bad.status_code == 404 and "This link is not complete" in bad.content.decode()
    unknown = client.get("/p/" + "A" * 32)
    assert unknown.status_code == 404
    assert "We could not find this link" in unknown.content.decode()
    assert "Traceback" not in unknown.content.decode()
    assert client.get("/p/").status_code == 403  # no cookie: "open the link from your SMS"


def test_last_use_and_open_count_are_recorded(client, share_link, opened):
    share, _ = share_link
    opened()
    client.get("/p/report/")
    client.get("/p/report/")
    share.refresh_from_db()
    assert share.open_count == 2
    assert share.first_opened_at and share.last_used_at >= share.first_opened_at


def test_a_form_posted_without_the_visits_key_is_refused(client, share_link, child):
    """Portal pages send no referrer (Origin: null), so the form key stands in for CSRF."""
    _, token = share_link
    client.get(f"/p/{token}")
    dob = {"action": "dob", "birth_date": child.birth_date.isoformat()}
    assert client.post("/p/", dob).status_code == 403
    assert client.post("/p/", {**dob, "k": "guessed"}).status_code == 403
    assert not Notification.objects.filter(kind="portal_code").exists()


def test_cookie_is_not_marked_secure_on_a_plain_http_trial(client, share_link, settings):
    settings.DEBUG = False
    settings.SESSION_COOKIE_SECURE = False  # `make run`: DEBUG off, plain http
    _, token = share_link
    assert not client.get(f"/p/{token}").cookies["pl_portal"]["secure"]


def test_closing_the_report_ends_the_visit_on_this_phone(client, share_link, opened, english):
    from tests.portal.conftest import post

    opened()
    response = post(client, {}, path="/p/leave/")
    assert "You have closed the report" in response.content.decode()
    assert client.get("/p/report/").status_code == 403
