"""Text messages through a pluggable backend, like Django's email backends.

Settings: `SMS_BACKEND` (dotted path; default the console backend) and, for the
file backend, `SMS_FILE_PATH` (a directory; one JSON file per message).

A real gateway is a class with this interface:

    class MyGatewayBackend(BaseSmsBackend):
        def send_messages(self, messages: list[SmsMessage]) -> int:
            ...  # send each with message.idempotency_key as the gateway's idempotency key;
            ...  # return how many were accepted; raise on a failure to retry

Raise an exception for a failure the outbox should retry (network down, 5xx);
the delivery task records it and tries again with backoff. Every attempt at one outbox row
carries the same `idempotency_key` (also after a crash between sending and recording it as
sent), so a gateway that honours idempotency keys delivers the text once.

`HttpSmsBackend` posts JSON to `SMS_HTTP_URL` with the key as an `Idempotency-Key` header.
"""

from __future__ import annotations

import json
import sys
import threading
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from django.utils.timezone import now


def _new_key() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    # The outbox passes its row's key, the same on every attempt; a text sent outside the
    # outbox (`sms_send`) gets a key of its own.
    idempotency_key: str = field(default_factory=_new_key)


class BaseSmsBackend:
    def send_messages(self, messages: list[SmsMessage]) -> int:
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    """Prints messages to standard output (development)."""

    def send_messages(self, messages: list[SmsMessage]) -> int:
        for message in messages:
            sys.stdout.write(
                f"SMS to {message.to} [key {message.idempotency_key}]: {message.body}\n"
            )
        sys.stdout.flush()
        return len(messages)


class FileSmsBackend(BaseSmsBackend):
    """Writes one JSON file per message into SMS_FILE_PATH; tests and demos read them back."""

    def send_messages(self, messages: list[SmsMessage]) -> int:
        folder = Path(settings.SMS_FILE_PATH)
        folder.mkdir(parents=True, exist_ok=True)
        for message in messages:
            stamp = now().strftime("%Y%m%dT%H%M%S%f")
            path = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.json"
            record = {**asdict(message), "sent_at": now().isoformat()}
            path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        return len(messages)


class LocmemSmsBackend(BaseSmsBackend):
    """Keeps messages in `LocmemSmsBackend.outbox` (in-process tests)."""

    outbox: list[SmsMessage] = []
    _lock = threading.Lock()

    def send_messages(self, messages: list[SmsMessage]) -> int:
        with self._lock:
            self.outbox.extend(messages)
        return len(messages)


class HttpSmsBackend(BaseSmsBackend):
    """POSTs each text to the gateway at `SMS_HTTP_URL` as JSON `{"to", "body",
    "idempotency_key"}`, with the key also in an `Idempotency-Key` header and, when
    `SMS_HTTP_TOKEN` is set, `Authorization: Bearer <token>`. A 2xx answer means accepted;
    anything else, or no answer within `SMS_HTTP_TIMEOUT` seconds, raises (the outbox retries
    with the same key). A gateway with its own API is a subclass overriding `request_for`."""

    def send_messages(self, messages: list[SmsMessage]) -> int:
        for message in messages:
            request = self.request_for(message)
            with urllib.request.urlopen(  # noqa: S310 (scheme checked in request_for)
                request, timeout=settings.SMS_HTTP_TIMEOUT
            ) as response:
                if not 200 <= response.status < 300:
                    raise ConnectionError(f"SMS gateway answered {response.status}")
        return len(messages)

    def request_for(self, message: SmsMessage) -> urllib.request.Request:
        url = settings.SMS_HTTP_URL
        if urlsplit(url).scheme not in ("http", "https"):
            raise ImproperlyConfigured("SMS_HTTP_URL must be an http(s) URL.")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Idempotency-Key": message.idempotency_key,
        }
        if settings.SMS_HTTP_TOKEN:
            headers["Authorization"] = f"Bearer {settings.SMS_HTTP_TOKEN}"
        body = json.dumps(asdict(message), ensure_ascii=False).encode()
        return urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310


def read_sms_file_outbox(folder: str | Path | None = None) -> list[dict]:
    """Messages the file backend wrote, oldest first (for tests and the demo)."""
    path = Path(folder or settings.SMS_FILE_PATH)
    if not path.exists():
        return []
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(path.glob("*.json"))]


def get_sms_backend() -> BaseSmsBackend:
    return import_string(settings.SMS_BACKEND)()


def sms_send(*, to: str, body: str) -> int:
    """Send one text now (callers normally go through the notification outbox instead)."""
    return get_sms_backend().send_messages([SmsMessage(to=to, body=body)])
