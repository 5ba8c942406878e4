"""Routing: which specialist gets a case. One place for the rule.

On-call for the wanted subspecialty now → fewest open cases → longest idle (oldest
last assignment, never assigned first) → lowest id; if nobody, the same among the
on-call "general" specialists; if still nobody, the coordinator's unassigned queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db.models import Count, F, Max, Q

from consult.models import OPEN_STATUSES, OnCallShift, Role, Subspecialty, User


def on_call_specialists(subspecialty: str, at: dt.datetime) -> Iterable[int]:
    return OnCallShift.objects.filter(subspecialty=subspecialty, start__lte=at, end__gt=at).values(
        "specialist_id"
    )


def route_pick(*, subspecialty: str, at: dt.datetime, exclude: Iterable[int] = ()) -> User | None:
    """The specialist to assign, or None for the unassigned queue."""
    wanted = [subspecialty]
    if subspecialty != Subspecialty.GENERAL:
        wanted.append(Subspecialty.GENERAL)
    for code in wanted:
        candidate = (
            User.objects.filter(
                pk__in=on_call_specialists(code, at), role=Role.SPECIALIST, is_active=True
            )
            .exclude(pk__in=list(exclude))
            .annotate(
                open_cases=Count(
                    "assigned_consultations",
                    filter=Q(assigned_consultations__status__in=OPEN_STATUSES),
                    distinct=True,
                ),
                last_assigned=Max("assignments__at"),
            )
            .order_by("open_cases", F("last_assigned").asc(nulls_first=True), "pk")
            .first()
        )
        if candidate is not None:
            return candidate
    return None
