"""Thin Celery tasks: take ids, call a service. Deadlines are swept, never scheduled as ETAs."""

from __future__ import annotations

from celery import shared_task

from consult.consultations.sla import sla_sweep


@shared_task(name="consult.sla_sweep", ignore_result=True)
def sla_sweep_task() -> int:
    return sla_sweep()
