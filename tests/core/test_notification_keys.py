"""At most once to the recipient through a gateway that honours idempotency keys: a database
cut between sending and marking sent makes the sweep send the row again after the claim
timeout, with the same key, and the (fake) gateway delivers it once."""

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
import time_machine
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.db import DatabaseError, connection
from django.utils import timezone

from core.models import Notification
from core.notify import notification_deliver, notifications_resend_due
from core.sms import read_sms_file_outbox

pytestmark = pytest.mark.django_db(transaction=True)


def database_cutter():  # noqa: ANN201
    """What a network cut or a database restart does to this thread's worker: its
    connection dies. Done from another connection, as the server would, and waited for;
    the returned function may be called from any thread."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    params = {
        k: v
        for k, v in connection.get_connection_params().items()
        if k not in ("cursor_factory", "context", "prepare_threshold")
    }

    def cut() -> None:
        with psycopg.connect(**params, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])

    return cut


class FakeGateway(ThreadingHTTPServer):
    """An SMS gateway (outside the product) that honours the Idempotency-Key header: every
    request is recorded, a key it has seen before is accepted again but not delivered."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), GatewayHandler)
        self.attempts: list[tuple[str, dict]] = []
        self.delivered: list[dict] = []
        # Called once the first message is delivered (before the answer goes back).
        self.after_first_delivery = lambda: None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/send"


class GatewayHandler(BaseHTTPRequestHandler):
    server: FakeGateway

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        key = self.headers.get("Idempotency-Key", "")
        seen = {k for k, _ in self.server.attempts}
        self.server.attempts.append((key, payload))
        if not key or key not in seen:
            self.server.delivered.append(payload)
            if len(self.server.delivered) == 1:
                self.server.after_first_delivery()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"status": "accepted"}')

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@pytest.fixture
def gateway(settings):
    server = FakeGateway()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SMS_BACKEND = "core.sms.HttpSmsBackend"
    settings.SMS_HTTP_URL = server.url
    yield server
    server.shutdown()
    server.server_close()


def _row(channel: str, address: str) -> Notification:
    # Written directly (not through notification_create) so no delivery task is queued.
    return Notification.objects.create(
        channel=channel,
        address=address,
        kind="test",
        subject="新病例",
        body="病例 #1 等待阅片",
        next_attempt_at=timezone.now(),
    )


def _deliver_with_a_database_cut_then_sweep(row: Notification) -> None:
    with pytest.raises(DatabaseError):
        notification_deliver(notification_id=row.pk)  # sent, then "mark sent" fails
    connection.close()  # what Celery does with a broken connection after the task
    stuck = Notification.objects.get(pk=row.pk)
    assert stuck.state == "sending" and stuck.sent_at is None
    assert notifications_resend_due() == 0, "the claim has not timed out yet"
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=6)):
        assert notifications_resend_due() == 1


def test_an_sms_resent_after_a_database_cut_reaches_the_family_once(gateway):
    row = _row("sms", "13900000003")
    # The cut comes once the gateway has the text, before the row is marked sent.
    gateway.after_first_delivery = database_cutter()
    _deliver_with_a_database_cut_then_sweep(row)
    row.refresh_from_db()
    key = str(row.idempotency_key)
    assert [k for k, _ in gateway.attempts] == [key, key]
    assert [p["idempotency_key"] for _, p in gateway.attempts] == [key, key]
    assert [p["to"] for p in gateway.delivered] == ["13900000003"]
    assert row.state == "sent" and row.attempts == 2


class CutAfterFirstEmail(EmailBackend):
    """The mail relay accepts the message, then the worker's database connection dies."""

    def send_messages(self, messages):  # noqa: ANN001, ANN201
        sent = super().send_messages(messages)
        if len(mail.outbox) == 1:
            database_cutter()()
        return sent


def test_an_email_resent_after_a_database_cut_carries_the_same_message_id(settings, specialist):
    settings.EMAIL_BACKEND = "tests.core.test_notification_keys.CutAfterFirstEmail"
    mail.outbox = []
    row = _row("email", specialist.email)
    _deliver_with_a_database_cut_then_sweep(row)
    assert len(mail.outbox) == 2
    ids = [m.message()["Message-ID"] for m in mail.outbox]
    keys = [m.message()["X-PedsLink-Idempotency-Key"] for m in mail.outbox]
    # A relay or mailbox that drops a Message-ID it has seen shows the message once.
    assert ids[0] == ids[1] and keys[0] == keys[1]
    row.refresh_from_db()
    key = str(row.idempotency_key)
    assert ids == [f"<{key}@pedslink.invalid>"] * 2 and keys == [key, key]
    assert row.state == "sent"


def test_every_row_has_its_own_key_and_the_file_backend_records_it(settings, tmp_path):
    settings.SMS_BACKEND = "core.sms.FileSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path)
    first, second = _row("sms", "13900000003"), _row("sms", "13900000004")
    assert first.idempotency_key != second.idempotency_key
    notification_deliver(notification_id=first.pk)
    assert read_sms_file_outbox(tmp_path)[0]["idempotency_key"] == str(first.idempotency_key)
