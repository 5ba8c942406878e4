"""Thin Celery tasks: take ids, call a service. Deadlines are swept, never scheduled as ETAs."""

from __future__ import annotations

from celery import shared_task

from consult.consultations.sla import sla_sweep
from consult.notify import notification_deliver, notifications_resend_due


@shared_task(name="consult.sla_sweep", ignore_result=True)
def sla_sweep_task() -> int:
    return sla_sweep()


@shared_task(name="consult.deliver_notifications", ignore_result=True)
def deliver_notifications(ids: list[int]) -> int:
    return sum(notification_deliver(notification_id=pk) for pk in ids)


@shared_task(name="consult.resend_notifications", ignore_result=True)
def resend_notifications() -> int:
    return notifications_resend_due()
