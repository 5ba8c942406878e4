"""The notification outbox: rows written with the event, delivered by a task, retried with
backoff, re-sent by the sweep after a crash; SMS through pluggable backends."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from core.models import Notification
from core.notify import (
    MAX_ATTEMPTS,
    notification_create,
    notification_deliver,
    notification_sms_create,
    notifications_resend_due,
)
from core.sms import read_sms_file_outbox

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


@pytest.fixture
def file_sms(settings, tmp_path):
    settings.SMS_BACKEND = "core.sms.FileSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    return tmp_path / "sms"


def _notice(user, **kwargs):
    return notification_create(
        recipients=[user],
        kind="test",
        subject="新病例",
        body="病例 #1 等待阅片",
        url="/consultations/1/",
        **kwargs,
    )


def test_one_row_per_channel_in_the_same_transaction(specialist):
    specialist.mobile = "13800000002"
    specialist.save()
    rows = _notice(specialist, sms=True)
    assert sorted(r.channel for r in rows) == ["email", "in_app", "sms"]
    assert Notification.objects.get(channel="in_app").state == "sent"


def test_delivery_sends_email_and_sms_once(specialist, file_sms):
    specialist.mobile = "13800000002"
    specialist.save()
    rows = _notice(specialist, sms=True)
    for row in rows:
        notification_deliver(notification_id=row.pk)
        notification_deliver(notification_id=row.pk)
    assert len(mail.outbox) == 1 and mail.outbox[0].subject == "新病例"
    assert [m["to"] for m in read_sms_file_outbox(file_sms)] == ["13800000002"]
    assert set(Notification.objects.values_list("state", flat=True)) == {"sent"}


def test_failures_back_off_then_give_up(specialist, settings):
    settings.EMAIL_BACKEND = "tests.core.test_notifications.BrokenBackend"
    row = next(r for r in _notice(specialist) if r.channel == "email")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            assert notification_deliver(notification_id=row.pk) is False
            row.refresh_from_db()
            assert row.attempts == attempt and "SMTP down" in row.last_error
            if attempt < MAX_ATTEMPTS:
                assert row.state == "pending" and row.next_attempt_at > timezone.now()
                assert notification_deliver(notification_id=row.pk) is False, "not due yet"
                clock.shift(dt.timedelta(hours=1, seconds=1))
    assert row.state == "failed"


def test_the_sweep_resends_rows_a_crash_left_behind(specialist):
    row = next(r for r in _notice(specialist) if r.channel == "email")
    # A worker claimed it and died before sending.
    Notification.objects.filter(pk=row.pk).update(state="sending", claimed_at=timezone.now())
    assert notifications_resend_due() == 0, "not abandoned yet"
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=6)):
        assert notifications_resend_due() == 1
    assert len(mail.outbox) == 1


def test_sms_to_a_guardian_without_an_account(file_sms):
    notification_sms_create(to="13900000003", body="省儿童医院：报告已出", kind="portal")
    assert notifications_resend_due() == 1
    assert read_sms_file_outbox(file_sms)[0]["body"] == "省儿童医院：报告已出"


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionError("SMTP down")
