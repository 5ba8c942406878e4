"""Text messages through a pluggable backend, like Django's email backends.

Settings: `SMS_BACKEND` (dotted path; default the console backend) and, for the
file backend, `SMS_FILE_PATH` (a directory; one JSON file per message).

A real gateway is a class with this interface:

    class MyGatewayBackend(BaseSmsBackend):
        def send_messages(self, messages: list[SmsMessage]) -> int:
            ...  # send each; return how many were accepted; raise on a failure to retry

Raise an exception for a failure the outbox should retry (network down, 5xx);
the delivery task records it and tries again with backoff.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.timezone import now


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str


class BaseSmsBackend:
    def send_messages(self, messages: list[SmsMessage]) -> int:
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    """Prints messages to standard output (development)."""

    def send_messages(self, messages: list[SmsMessage]) -> int:
        for message in messages:
            sys.stdout.write(f"SMS to {message.to}: {message.body}\n")
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
