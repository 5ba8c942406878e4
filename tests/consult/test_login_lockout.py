"""Issue 12, item 7: repeated failed logins lock the account and the address; the alliance
admin sees the lock and lifts it (audited)."""

import pytest
from django.urls import reverse

from core.models import AuditEvent

LOCKOUT_ZH = "登录失败次数过多"


def _fail(client, username, times, address="127.0.0.1"):
    for _ in range(times):
        client.post(
            reverse("login"), {"username": username, "password": "wrong"}, REMOTE_ADDR=address
        )


def _login(client, user, password, address="127.0.0.1"):
    return client.post(
        reverse("login"),
        {"username": user.username, "password": password},
        REMOTE_ADDR=address,
    )


def _logged_in(client):
    return client.get(reverse("home")).status_code == 200


def test_twenty_wrong_passwords_then_the_right_one_is_refused_in_chinese(
    client, county_doctor, password
):
    _fail(client, county_doctor.username, 20)
    response = _login(client, county_doctor, password)
    assert response.status_code == 429
    assert LOCKOUT_ZH in response.content.decode()
    assert not _logged_in(client)


def test_the_lockout_message_is_in_english_too(client, county_doctor, password, settings):
    _fail(client, county_doctor.username, 20)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = _login(client, county_doctor, password)
    assert "Too many failed logins" in response.content.decode()


def test_an_account_is_locked_whatever_address_the_guesses_come_from(
    client, county_doctor, password
):
    for n in range(10):
        _fail(client, county_doctor.username, 1, address=f"10.0.0.{n + 1}")
    response = _login(client, county_doctor, password, address="10.9.9.9")
    assert response.status_code == 429
    assert not _logged_in(client)


def test_an_address_is_locked_across_usernames(
    client, client_factory, county_doctor, township_doctor, password
):
    for n in range(10):
        _fail(client, f"guess{n}", 1, address="10.1.1.1")
    response = _login(client, county_doctor, password, address="10.1.1.1")
    assert response.status_code == 429
    assert LOCKOUT_ZH in response.content.decode()
    assert not _logged_in(client)
    elsewhere = client_factory()
    _login(elsewhere, township_doctor, password, address="10.2.2.2")
    assert _logged_in(elsewhere)


def test_admin_sees_the_lock_and_lifts_it_then_login_works(
    client, client_factory, county_doctor, alliance_admin, password
):
    _fail(client, county_doctor.username, 12)
    admin = client_factory()
    admin.force_login(alliance_admin)
    page = admin.get(reverse("user-list")).content.decode()
    assert "Locked logins" in page or "被锁定的登录" in page
    assert "county_doc" in page and "127.0.0.1" in page
    user_page = admin.get(reverse("user-edit", args=[county_doctor.pk])).content.decode()
    assert reverse("login-unlock") in user_page

    response = admin.post(
        reverse("login-unlock"), {"username": "county_doc", "ip_address": "127.0.0.1"}
    )
    assert response.status_code == 302
    row = AuditEvent.objects.get(reason__startswith="login lock lifted")
    assert row.user == alliance_admin and row.object_id == str(county_doctor.pk)

    _login(client, county_doctor, password)
    assert _logged_in(client)


def test_a_non_admin_cannot_lift_a_lock(
    client, client_factory, county_doctor, coordinator, password
):
    _fail(client, county_doctor.username, 12)
    other = client_factory()
    other.force_login(coordinator)
    response = other.post(reverse("login-unlock"), {"username": "county_doc"})
    assert response.status_code == 403
    assert _login(client, county_doctor, password).status_code == 429
    assert not AuditEvent.objects.filter(reason__startswith="login lock lifted").exists()


@pytest.mark.parametrize("data", [{}, {"ip_address": "not-an-address"}])
def test_unlock_without_a_valid_target_is_refused_with_a_reason(client, alliance_admin, data):
    client.force_login(alliance_admin)
    response = client.post(reverse("login-unlock"), data)
    assert response.status_code == 400
