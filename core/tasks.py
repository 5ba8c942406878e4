"""Thin Celery tasks of the notification outbox: take ids, call a service."""

from __future__ import annotations

from celery import shared_task

from core.notify import notification_deliver, notifications_resend_due


@shared_task(name="core.deliver_notifications", ignore_result=True)
def deliver_notifications(ids: list[int]) -> int:
    return sum(notification_deliver(notification_id=pk) for pk in ids)


@shared_task(name="core.resend_notifications", ignore_result=True)
def resend_notifications() -> int:
    return notifications_resend_due()
