"""Thin Celery tasks for referrals. The deadline is swept by beat, never an ETA task."""

from __future__ import annotations

from celery import shared_task

from referrals.deadlines import referral_sweep


@shared_task(name="referrals.deadline_sweep", ignore_result=True)
def referral_sweep_task() -> int:
    return referral_sweep()
