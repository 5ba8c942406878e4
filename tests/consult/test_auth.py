import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from consult.models import Role
from core.models import AuditEvent
from tests.factories import UserFactory
from tests.second_factor import authenticator_for, current_code

HOME_TEXT = {
    "county_doctor": "Register a child",
    "township_doctor": "Register a child",
    "specialist": "Your worklist",
    "coordinator": "On-call roster",
    "alliance_admin": "Alliance administration",
}


@pytest.mark.parametrize("who", list(HOME_TEXT))
def test_each_role_logs_in_and_lands_on_its_home(who, request, client, password):
    user = request.getfixturevalue(who)
    device = authenticator_for(user) if user.role != Role.REFERRING_DOCTOR else None
    response = client.post(
        reverse("login"),
        {"username": user.username, "password": password},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    assert response.status_code == 200
    if device is not None:  # staff: the second factor (tests/consult/test_two_factor.py)
        client.post(reverse("login-verify"), {"otp_token": current_code(device)})
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    home = client.get(reverse("home"))
    assert HOME_TEXT[who] in home.content.decode()
    assert AuditEvent.objects.filter(user=user, action="login").count() == 1


def test_home_is_in_chinese_by_default(client, county_doctor):
    client.force_login(county_doctor)
    assert "登记患儿" in client.get(reverse("home")).content.decode()


def test_failed_login_is_audited_and_says_so(client, county_doctor):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post(reverse("login"), {"username": "county_doc", "password": "wrong"})
    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()
    row = AuditEvent.objects.get(action="login_failed")
    assert row.username == "county_doc"
    assert row.outcome == "failure"
    assert row.ip == "127.0.0.1"


def test_deactivated_user_cannot_log_in(db, client, password):
    user = UserFactory(username="gone", is_active=False)
    client.post(reverse("login"), {"username": user.username, "password": password})
    assert client.get(reverse("home")).status_code == 302


def test_language_switch_persists_across_pages(client, county_doctor):
    client.force_login(county_doctor)
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Register a child" in client.get(reverse("home")).content.decode()
    assert "Children" in client.get(reverse("patient-list")).content.decode()
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    assert "登记患儿" in client.get(reverse("home")).content.decode()


def test_session_ends_after_30_idle_minutes_but_not_while_in_use(client, county_doctor, password):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        client.post(reverse("login"), {"username": county_doctor.username, "password": password})
        for _ in range(3):  # busy for an hour: 20 minutes between requests
            clock.shift(dt.timedelta(minutes=20))
            assert client.get(reverse("home")).status_code == 200
        clock.shift(dt.timedelta(minutes=settings.SESSION_IDLE_MINUTES, seconds=30))
        assert client.get(reverse("home")).status_code == 302


def test_requests_in_the_same_minute_do_not_rewrite_the_session(client, county_doctor):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(county_doctor)
    client.get(reverse("home"))
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("home")).status_code == 200
    assert not [
        q
        for q in queries.captured_queries
        if "django_session" in q["sql"] and q["sql"].startswith(("UPDATE", "INSERT"))
    ]


def test_anonymous_user_is_sent_to_login(client):
    response = client.get(reverse("patient-list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_role_choices_cover_the_design_roles():
    assert set(Role.values) == {"referring_doctor", "specialist", "coordinator", "admin"}
