"""The notification outbox (STYLE.md "Deadlines": the sweep writes rows, a task delivers).

`notification_create` writes rows inside the caller's transaction; after commit it
pushes the bell update and queues delivery. `notification_deliver` claims one row
with a conditional update, sends it, records the result, and backs off on failure.
`notifications_resend_due` is run by beat and picks up rows a crash left behind.
Referrals and the parent portal use the same functions.

Delivery is at least once to the gateway: a crash (or a database cut) after the gateway
accepted a message but before the row was marked sent makes the sweep send it again once
the claim times out. Every attempt at a row carries the row's `idempotency_key` (SMS: the
gateway's idempotency key; e-mail: the Message-ID and `X-PedsLink-Idempotency-Key`), so a
gateway or relay that honours it delivers once.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.db.models import Q
from django.utils import translation
from django.utils.timezone import now

from core.models import Notification
from core.realtime import push_after_commit, user_group
from core.sms import SmsMessage, get_sms_backend
from pedslink.proxy import absolute_url

logger = logging.getLogger(__name__)

# settings.AUTH_USER_MODEL (with `email` and `mobile`); the base layer does not import the app
# that defines it.
User = Any

Channel = Notification.Channel
State = Notification.State

MAX_ATTEMPTS = 6
CLAIM_TIMEOUT = dt.timedelta(minutes=5)


def alliance_language() -> translation.override:
    """Texts leaving the system (email, SMS, stored notices) use the alliance's language."""
    return translation.override(settings.LANGUAGE_CODE)


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 1 min, 2 min, ... capped at one hour."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def notification_create(
    *,
    recipients: Iterable[User],
    kind: str,
    subject: str,
    body: str,
    url: str = "",
    obj: models.Model | None = None,
    sms: bool = False,
    email: bool = True,
) -> list[Notification]:
    """Write a bell notice for each recipient, plus email (and SMS) rows to deliver."""
    at = now()
    common = {
        "kind": kind,
        "subject": str(subject)[:200],
        "body": str(body),
        "url": url,
        "object_type": obj._meta.model_name if obj is not None else "",
        "object_id": str(obj.pk) if obj is not None else "",
    }
    rows: list[Notification] = []
    for user in {u.pk: u for u in recipients if u is not None}.values():
        rows.append(
            Notification(
                recipient=user, channel=Channel.IN_APP, state=State.SENT, sent_at=at, **common
            )
        )
        if email and user.email:
            rows.append(
                Notification(
                    recipient=user,
                    channel=Channel.EMAIL,
                    address=user.email,
                    next_attempt_at=at,
                    **common,
                )
            )
        if sms and user.mobile:
            rows.append(
                Notification(
                    recipient=user,
                    channel=Channel.SMS,
                    address=user.mobile,
                    next_attempt_at=at,
                    **common,
                )
            )
    created = Notification.objects.bulk_create(rows)
    _after_commit(created)
    return created


def notification_sms_create(
    *, to: str, body: str, kind: str, obj: models.Model | None = None
) -> Notification:
    """A text message to someone without an account (a guardian), through the outbox."""
    row = Notification.objects.create(
        channel=Channel.SMS,
        address=to,
        kind=kind,
        subject="",
        body=body,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        next_attempt_at=now(),
    )
    _after_commit([row])
    return row


def _after_commit(rows: list[Notification]) -> None:
    bell_users = sorted({r.recipient_id for r in rows if r.channel == Channel.IN_APP})
    for user_id in bell_users:
        push_after_commit(user_group(user_id), "bell")
    to_send = [r.pk for r in rows if r.channel != Channel.IN_APP]
    if to_send:
        # core.tasks imports this module (a task calls the service); the task is looked up here.
        from core.tasks import deliver_notifications

        transaction.on_commit(lambda: _queue(deliver_notifications, to_send))


def _queue(task: Any, ids: list[int]) -> None:
    try:
        task.delay(ids)
    except Exception:
        # Broker down: the rows stay pending and the beat sweep sends them later.
        logger.warning("could not queue notification delivery; the sweep will retry")


def _claim(notification_id: int) -> Notification | None:
    """Take one due row for sending; None if it is not due or another worker has it."""
    at = now()
    due = Q(state=State.PENDING, next_attempt_at__lte=at) | Q(
        state=State.SENDING, claimed_at__lt=at - CLAIM_TIMEOUT
    )
    claimed = (
        Notification.objects.filter(due, pk=notification_id)
        .exclude(channel=Channel.IN_APP)
        .update(state=State.SENDING, claimed_at=at, attempts=models.F("attempts") + 1)
    )
    if not claimed:
        return None
    return Notification.objects.get(pk=notification_id)


IDEMPOTENCY_HEADER = "X-PedsLink-Idempotency-Key"


def message_id(key: str) -> str:
    """A Message-ID that is the same on every attempt at one row (Django would make a new
    one per attempt, from the sending host's name). Its domain is the sender's."""
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "pedslink.invalid"
    return f"<{key}@{domain}>"


def _send(row: Notification) -> None:
    key = str(row.idempotency_key)
    if row.channel == Channel.EMAIL:
        body = row.body + (f"\n\n{absolute_url(row.url)}" if row.url else "")
        headers = {"Message-ID": message_id(key), IDEMPOTENCY_HEADER: key}
        EmailMessage(row.subject, body, None, [row.address], headers=headers).send()
    elif row.channel == Channel.SMS:
        text = f"{row.subject}: {row.body}" if row.subject else row.body
        get_sms_backend().send_messages(
            [SmsMessage(to=row.address, body=text, idempotency_key=key)]
        )


def notification_deliver(*, notification_id: int) -> bool:
    """Send one email/SMS row if it is due. True when it was sent now."""
    row = _claim(notification_id)
    if row is None:
        return False
    try:
        _send(row)
    except Exception as exc:
        failed = row.attempts >= MAX_ATTEMPTS
        Notification.objects.filter(pk=row.pk, state=State.SENDING).update(
            state=State.FAILED if failed else State.PENDING,
            next_attempt_at=None if failed else now() + backoff(row.attempts),
            last_error=f"{type(exc).__name__}: {exc}"[:500],
        )
        logger.warning("notification %s not sent (attempt %s)", row.pk, row.attempts)
        return False
    Notification.objects.filter(pk=row.pk).update(
        state=State.SENT, sent_at=now(), last_error="", body=_redact_secrets(row)
    )
    return True


def _redact_secrets(row: Notification) -> str:
    """Portal links and one-time codes must not outlive their delivery in the outbox."""
    if not row.kind.startswith("portal_"):
        return row.body
    return re.sub(r"\d{6}", "······", re.sub(r"/p/[A-Za-z0-9_-]{20,}", "/p/…", row.body))


def notifications_resend_due(*, limit: int = 200) -> int:
    """Send rows that are due again or were left mid-send by a crash. Returns how many sent."""
    at = now()
    ids = list(
        Notification.objects.filter(
            Q(state=State.PENDING, next_attempt_at__lte=at)
            | Q(state=State.SENDING, claimed_at__lt=at - CLAIM_TIMEOUT)
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(notification_deliver(notification_id=pk) for pk in ids)


def notifications_mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    rows = Notification.objects.filter(recipient=user, channel=Channel.IN_APP, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    with transaction.atomic():
        count = rows.update(read_at=now())
        push_after_commit(user_group(user.pk), "bell")
    return count


def unread_count(user: User) -> int:
    return Notification.objects.filter(
        recipient=user, channel=Channel.IN_APP, read_at__isnull=True
    ).count()
