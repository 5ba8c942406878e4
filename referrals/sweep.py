"""The referral deadline sweep (STYLE.md "Deadlines"): beat runs it every minute.

Referrals waiting for acceptance or for a date whose next deadline has passed are taken
oldest first, one at a time, locked with SELECT ... FOR UPDATE SKIP LOCKED. A step is
claimed by bumping `deadline_stage` with a conditional update, and its event row is unique
per (referral, phase, stage): the coordinator is warned once, then the department head
once, per phase. Messages are outbox rows delivered by another task. A row whose step
fails is pushed back a few minutes.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.timezone import localtime, now
from django.utils.translation import gettext as _

from core.deadline_sweep import RETRY_AFTER, sweep_due  # noqa: F401 - tests read it here
from core.notify import alliance_language
from referrals import deadlines
from referrals.models import DEADLINE_STATUSES, Referral, ReferralEvent, Status
from referrals.services import _notify, coordinators, referral_policies


def referral_sweep(*, limit: int = 1000) -> int:
    """Take every due warning, one row at a time. Returns how many rows were handled."""
    policies = referral_policies()
    return sweep_due(
        queryset=Referral.objects.select_related("receiving_department__head", "patient").filter(
            status__in=DEADLINE_STATUSES
        ),
        step=lambda r: referral_deadline_step(referral=r, policy=policies[r.urgency]),
        limit=limit,
    )


def referral_deadline_step(*, referral: Referral, policy: deadlines.Policy) -> bool:
    """Take the warning the referral is due for; False if nothing was due (runs locked)."""
    stage = referral.deadline_stage
    accepting = referral.status == Status.REQUESTED
    tz = settings.TIME_ZONE
    start = referral.phase_started_at
    due = deadlines.next_deadline(policy, start, stage, accepting=accepting, tz=tz)
    if due is None or due > now():
        # The policy changed since the deadline was stored.
        Referral.objects.filter(pk=referral.pk).update(next_deadline=due)
        return False
    following = deadlines.next_deadline(policy, start, stage + 1, accepting=accepting, tz=tz)
    claimed = Referral.objects.filter(
        pk=referral.pk, status=referral.status, deadline_stage=stage
    ).update(deadline_stage=stage + 1, next_deadline=following)
    if not claimed:
        return False
    referral.deadline_stage, referral.next_deadline = stage + 1, following
    kind = (
        ReferralEvent.Kind.WARN_COORDINATOR
        if stage == deadlines.WARN_COORDINATOR
        else ReferralEvent.Kind.WARN_HEAD
    )
    ReferralEvent.objects.create(
        referral=referral,
        at=now(),
        kind=kind,
        from_status=referral.status,
        to_status=referral.status,
        deadline_round=referral.deadline_round,
        deadline_stage=stage,
        department=referral.receiving_department,
    )
    with alliance_language():
        _warn(referral, kind, accepting)
    return True


def _warn(referral: Referral, kind: str, accepting: bool) -> None:
    department = referral.receiving_department
    what = _("acceptance") if accepting else _("scheduling")
    ref = {
        "id": referral.pk,
        "what": what,
        "department": department.name,
        "due": localtime(referral.due_at).strftime("%m-%d %H:%M") if referral.due_at else "",
    }
    if kind == ReferralEvent.Kind.WARN_COORDINATOR:
        _notify(
            coordinators(),
            "referral_overdue",
            _("Referral #%(id)s: %(what)s overdue") % ref,
            _("%(department)s has not answered; %(what)s was due at %(due)s.") % ref,
            referral,
            sms=True,
        )
    else:
        # Without a head on record the coordinators hear it again, so someone escalates.
        target = [department.head] if department.head_id else coordinators()
        _notify(
            target,
            "referral_overdue_head",
            _("Referral #%(id)s still waiting for your department") % ref,
            _("The %(what)s of referral #%(id)s was due at %(due)s; please see to it now.") % ref,
            referral,
            sms=True,
        )
