"""The one deadline-sweep loop (STYLE.md "Deadlines"), shared by the consultation SLA and
the referral deadlines: rows whose `next_deadline` has passed are taken oldest first, one at a
time, locked with SELECT ... FOR UPDATE SKIP LOCKED so that two sweepers never take the same
row; a row whose step fails is pushed back instead of looping."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils.timezone import now

logger = logging.getLogger(__name__)

RETRY_AFTER = dt.timedelta(minutes=5)


def sweep_due(*, queryset: QuerySet, step: Callable[[Any], object], limit: int = 1000) -> int:
    """Run `step` on each due row of `queryset` (filtered to open rows). Returns rows handled."""
    model = queryset.model
    taken = 0
    while taken < limit:
        row = None
        try:
            with transaction.atomic():
                row = (
                    queryset.select_for_update(skip_locked=True, of=("self",))
                    .filter(next_deadline__lte=now())
                    .order_by("next_deadline")
                    .first()
                )
                if row is None:
                    break
                step(row)
        except Exception:
            if row is None:
                raise
            logger.exception(
                "deadline step failed for %s %s; retrying later", model.__name__, row.pk
            )
            model.objects.filter(pk=row.pk).update(next_deadline=now() + RETRY_AFTER)
        taken += 1
    return taken
