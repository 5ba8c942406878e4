"""Staff two-factor login: specialists, coordinators and alliance admins pass a second factor
(authenticator app, backup code or SMS code) before they are logged in at all."""

import datetime as dt
import re

import pytest
import time_machine
from channels.testing.websocket import WebsocketCommunicator
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from consult.models import Report
from consult.two_factor import ENROL_DEVICE_KEY, backup_codes_new
from core.models import AuditEvent
from core.sms import LocmemSmsBackend
from pedslink.asgi import application
from tests.second_factor import authenticator_for, current_code, second_factor_passed


def _password(client, user, password):
    return client.post(reverse("login"), {"username": user.username, "password": password})


def _code(client, code):
    return client.post(reverse("login-verify"), {"otp_token": code})


def _logged_in(client):
    return client.get(reverse("home")).status_code == 200


def test_password_alone_does_not_log_a_specialist_in(client, specialist, password):
    authenticator_for(specialist)
    response = _password(client, specialist, password)
    assert response.status_code == 302 and response["Location"] == reverse("login-verify")
    assert client.get(reverse("worklist")).status_code == 302
    assert client.get("/api/consultations/").status_code == 403
    assert client.get("/viewer/studies/1.2.3/").status_code == 302
    assert client.get("/dicomweb/studies").status_code in (401, 403)


@pytest.mark.django_db(transaction=True)
def test_password_alone_opens_no_websocket(client, specialist, password):
    authenticator_for(specialist)
    _password(client, specialist, password)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def scenario():
        headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"cookie", cookie)]
        socket = WebsocketCommunicator(application, "/ws/live/", headers=headers)
        connected, code = await socket.connect()
        assert not connected and code == 4401

    from tests.consult.test_websockets import run

    run(scenario)


@pytest.mark.parametrize("who", ["specialist", "coordinator", "alliance_admin"])
def test_staff_log_in_with_the_authenticator_code(who, request, client, password):
    user = request.getfixturevalue(who)
    device = authenticator_for(user)
    _password(client, user, password)
    response = _code(client, current_code(device))
    assert response.status_code == 302 and response["Location"] == "/"
    assert _logged_in(client)


def test_a_wrong_code_is_refused_and_audited(client, specialist, password):
    authenticator_for(specialist)
    _password(client, specialist, password)
    response = _code(client, "000000")
    assert response.status_code == 400
    assert not _logged_in(client)
    assert AuditEvent.objects.filter(action="login_failed", username="specialist").exists()


def test_enrolment_with_the_qr_code_then_login_with_the_app(client, specialist, password):
    response = _password(client, specialist, password)
    assert response["Location"] == reverse("login-enrol")
    page = client.get(reverse("login-enrol")).content.decode()
    assert "<svg" in page and "<script" not in page.split("<svg", 1)[1].split("</svg>")[0]
    assert not _logged_in(client)
    device = TOTPDevice.objects.get(pk=client.session[ENROL_DEVICE_KEY])
    response = client.post(reverse("login-enrol"), {"otp_token": current_code(device)})
    assert response["Location"] == reverse("backup-codes")
    codes = re.findall(r"<code>(\w+)</code>", client.get(reverse("backup-codes")).content.decode())
    assert len(codes) == 10
    assert _logged_in(client)

    client.post(reverse("logout"))
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=60)):
        assert _password(client, specialist, password)["Location"] == reverse("login-verify")
        _code(client, current_code(device))
        assert _logged_in(client)


def test_a_backup_code_works_once(client, specialist, password):
    authenticator_for(specialist)
    code = backup_codes_new(user=specialist)[0]
    _password(client, specialist, password)
    _code(client, code)
    assert _logged_in(client)
    client.post(reverse("logout"))
    _password(client, specialist, password)
    assert _code(client, code).status_code == 400
    assert not _logged_in(client)


def test_sms_fallback_sends_a_code_that_works_once(client, specialist, password, settings):
    settings.SMS_BACKEND = "core.sms.LocmemSmsBackend"  # the gateway, kept in memory
    LocmemSmsBackend.outbox = []
    specialist.mobile = "13800001234"
    specialist.save()
    authenticator_for(specialist)
    _password(client, specialist, password)
    assert "1234" in client.get(reverse("login-verify")).content.decode()
    client.post(reverse("login-verify"), {"send_sms": "1"})
    [sms] = LocmemSmsBackend.outbox
    assert sms.to == "13800001234"
    code = re.search(r"\b(\d{6})\b", sms.body).group(1)
    _code(client, code)
    assert _logged_in(client)
    client.post(reverse("logout"))
    _password(client, specialist, password)
    assert _code(client, code).status_code == 400
    assert not _logged_in(client)


def test_referring_doctors_need_it_only_once_the_alliance_says_so(
    client, client_factory, county_doctor, alliance_admin, password
):
    _password(client, county_doctor, password)
    assert _logged_in(client)

    admin = client_factory()
    admin.force_login(alliance_admin)
    admin.post(reverse("security-settings"), {"referring_doctors": "on"})
    assert AuditEvent.objects.filter(
        user=alliance_admin, object_type="securitypolicy", reason__endswith="yes"
    ).exists()

    later = client_factory()
    response = _password(later, county_doctor, password)
    assert response["Location"] == reverse("login-enrol")
    assert not _logged_in(later)


SIGN_FORM = {
    "template": "gi",
    "findings": "同心圆征",
    "impression": "肠套叠",
    "edit_version": "0",
    "sign": "1",
}


@pytest.fixture
def signing(in_review, client, settings):
    """The reading specialist, logged in with both factors at a fixed time."""
    settings.SESSION_COOKIE_AGE = 24 * 3600  # about the 12-hour rule, not the idle timeout
    specialist = in_review.assigned_to
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        client.force_login(specialist)
        second_factor_passed(client)
        yield clock, client, in_review


def test_signing_within_12_hours_asks_for_no_new_code(signing, password):
    clock, client, case = signing
    clock.shift(dt.timedelta(hours=11, minutes=50))
    client.post(reverse("consultation-report", args=[case.pk]), {**SIGN_FORM, "password": password})
    assert case.reports.get().status == Report.Status.SIGNED


def test_signing_after_12_hours_asks_for_the_code_again(signing, password):
    clock, client, case = signing
    device = authenticator_for(case.assigned_to)
    clock.shift(dt.timedelta(hours=12, minutes=10))
    url = reverse("consultation-report", args=[case.pk])
    response = client.post(url, {**SIGN_FORM, "password": password}, follow=True)
    assert case.reports.get().status == Report.Status.DRAFT
    assert 'name="otp_token"' in response.content.decode()
    form = {**SIGN_FORM, "edit_version": "1", "password": password}
    client.post(url, {**form, "otp_token": current_code(device)})
    assert case.reports.get().status == Report.Status.SIGNED


def test_admin_reset_is_audited_and_forces_enrolment(
    client, client_factory, specialist, alliance_admin, password
):
    authenticator_for(specialist)
    backup_codes_new(user=specialist)
    admin = client_factory()
    admin.force_login(alliance_admin)
    page = admin.get(reverse("user-edit", args=[specialist.pk])).content.decode()
    assert reverse("user-second-factor-reset", args=[specialist.pk]) in page
    admin.post(reverse("user-second-factor-reset", args=[specialist.pk]))
    row = AuditEvent.objects.get(reason="second factor reset")
    assert row.user == alliance_admin and row.object_id == str(specialist.pk)
    assert _password(client, specialist, password)["Location"] == reverse("login-enrol")


def test_only_the_admin_resets_a_second_factor(client, specialist, coordinator):
    authenticator_for(specialist)
    client.force_login(coordinator)
    response = client.post(reverse("user-second-factor-reset", args=[specialist.pk]))
    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=specialist).exists()


def test_the_django_admin_login_does_not_skip_the_second_factor(client, alliance_admin, password):
    alliance_admin.is_staff = True
    alliance_admin.save()
    client.post("/django-admin/login/", {"username": alliance_admin.username, "password": password})
    assert not _logged_in(client)
    assert client.get("/django-admin/").status_code == 302


def test_wrong_codes_count_towards_the_lockout(client, specialist, password):
    device = authenticator_for(specialist)
    _password(client, specialist, password)
    for _ in range(10):
        _code(client, "000000")
    _password(client, specialist, password)
    response = _code(client, current_code(device))
    assert response.status_code in (302, 429)
    assert not _logged_in(client)


def test_seed_demo_prints_one_kept_secret_and_demo_totp_logs_in(db, client, settings, capsys):
    from io import StringIO

    from django.core.management import call_command

    from consult.demo import DEMO_PASSWORD
    from consult.models import User

    call_command("seed_demo", "--demo")
    first = re.search(r"key: (\w+)", capsys.readouterr().out).group(1)
    call_command("seed_demo", "--demo")
    out = capsys.readouterr().out
    assert f"key: {first}" in out and f"otpauth://totp/PedsLink%3Ademo?secret={first}" in out

    code = StringIO()
    call_command("demo_totp", "spec_liu", stdout=code)
    _password(client, User.objects.get(username="spec_liu"), DEMO_PASSWORD)
    _code(client, code.getvalue().strip())
    assert _logged_in(client)
