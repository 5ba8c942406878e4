"""Reads of consultations that pages show: the lists (by state, the specialist's worklist,
the coordinator's dashboard, the home block) and a case's thread, with their SLA standing.
The permission filter is consult.selectors.consultations_visible_to."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Prefetch, Q
from django.utils.timezone import now

from consult.consultations.sla import Clock, sla_policies, sla_standing, standing
from consult.models import (
    OPEN_STATUSES,
    Consultation,
    ConsultationEvent,
    MessageReceipt,
    Priority,
    Role,
    Status,
    Subspecialty,
    User,
)
from consult.selectors import consultations_visible_to

LIST_SELECT = ("patient", "hospital", "assigned_to", "requested_by")


def _with_standing(cases: list[Consultation]) -> list[Consultation]:
    policies = sla_policies()
    at = now()
    for case in cases:
        case.standing = sla_standing(case, policies, at)  # type: ignore[attr-defined]  # for the template
    return cases


def _list_rows(qs: Any) -> Any:
    return qs.select_related(*LIST_SELECT).annotate(n_studies=Count("studies", distinct=True))


def by_state_context(user: User) -> dict[str, Any]:
    qs = consultations_visible_to(user).order_by("-updated_at")
    cases = _with_standing(list(_list_rows(qs)[:300]))
    groups: dict[str, list[Consultation]] = {s: [] for s in Status.values}
    for case in cases:
        groups[case.status].append(case)
    return {
        "groups": [(Status(s).label, s, rows) for s, rows in groups.items() if rows],
        "answered_statuses": (Status.REPORTED,),
    }


def home_context(user: User) -> dict[str, Any]:
    if user.role == Role.SPECIALIST:
        return {"worklist": worklist_rows(user, {}), "role": user.role}
    if user.role == Role.COORDINATOR:
        return {**dashboard_context(), "role": user.role}
    if user.role == Role.REFERRING_DOCTOR:
        return {**by_state_context(user), "role": user.role}
    return {"role": user.role}


WORKLIST_ROWS = 50
STANDING_FIELDS = (
    "pk",
    "priority",
    "status",
    "submitted_at",
    "reported_at",
    "updated_at",
    "sla_paused_seconds",
    "sla_paused_since",
)


def worklist_rows(user: User, params: Any) -> list[Consultation]:
    """Mine (open) and my subspecialties' unassigned queue, soonest-due first.

    Time left depends on pauses, so the order is computed from a few columns of every
    candidate; only the first WORKLIST_ROWS are then loaded in full (two queries in all).
    """
    qs = consultations_visible_to(user).filter(
        Q(assigned_to=user, status__in=OPEN_STATUSES)
        | Q(status=Status.SUBMITTED, assigned_to__isnull=True)
    )
    if params.get("priority") in Priority.values:
        qs = qs.filter(priority=params["priority"])
    if params.get("subspecialty") in Subspecialty.values:
        qs = qs.filter(subspecialty=params["subspecialty"])
    if params.get("status") in Status.values:
        qs = qs.filter(status=params["status"])
    policies, at, far = sla_policies(), now(), dt.timedelta(days=365)

    def sort_key(row: dict[str, Any]) -> tuple:
        left = far
        if row["submitted_at"] is not None:
            clock = Clock(row["submitted_at"], row["sla_paused_seconds"], row["sla_paused_since"])
            left = standing(policies[row["priority"]], clock, at).left
        return (left, row["priority"] != Priority.URGENT, row["pk"])

    candidates = sorted(qs.values(*STANDING_FIELDS), key=sort_key)
    first = [row["pk"] for row in candidates[:WORKLIST_ROWS]]
    rows = {c.pk: c for c in _list_rows(Consultation.objects.filter(pk__in=first))}
    ordered = _with_standing([rows[pk] for pk in first if pk in rows])
    return ordered


def _first_rows(qs: Any, n: int = 50) -> list[Consultation]:
    """The first n of an ordered queryset, with the list columns: ids first (index only),
    then the joins and the study count for those n rows alone."""
    ids = list(qs.values_list("pk", flat=True)[:n])
    rows = {c.pk: c for c in _list_rows(Consultation.objects.filter(pk__in=ids))}
    return _with_standing([rows[pk] for pk in ids if pk in rows])


def dashboard_context() -> dict[str, Any]:
    open_cases = Consultation.objects.filter(status__in=OPEN_STATUSES)
    counts = dict(open_cases.values_list("status").annotate(n=Count("pk")).order_by())
    by_state = [(Status(s).label, counts.get(s, 0)) for s in OPEN_STATUSES]
    at_risk = _first_rows(
        open_cases.filter(sla_stage=2, breached_at__isnull=True).order_by("next_deadline")
    )
    breached = _first_rows(open_cases.filter(breached_at__isnull=False).order_by("breached_at"))
    # Load from the open cases (index on status, assigned_to), not a join over all cases.
    open_by_specialist = dict(
        open_cases.exclude(assigned_to=None)
        .values_list("assigned_to")
        .annotate(n=Count("pk"))
        .order_by()
    )
    load = list(User.objects.filter(role=Role.SPECIALIST, is_active=True).order_by("full_name"))
    for specialist in load:
        specialist.n_open = open_by_specialist.get(specialist.pk, 0)  # type: ignore[attr-defined]
    load.sort(key=lambda s: -s.n_open)  # type: ignore[attr-defined]
    history = (
        ConsultationEvent.objects.filter(
            kind__in=[ConsultationEvent.Kind.SLA_BREACH, ConsultationEvent.Kind.SLA_REASSIGN]
        )
        .select_related("consultation__hospital", "consultation__patient")
        .order_by("-at")[:50]
    )
    return {
        "by_state": by_state,
        "at_risk": at_risk,
        "breached": breached,
        "load": load,
        "history": history,
        "unassigned": counts.get(Status.SUBMITTED, 0),
    }


def thread_context(consultation: Consultation, user: User) -> dict[str, Any]:
    thread = consultation.messages.select_related("author").prefetch_related(
        "attachments", Prefetch("receipts", queryset=_receipts())
    )
    return {
        "thread": thread,
        "me": user,
        "loose_attachments": consultation.attachments.filter(message__isnull=True),
    }


def _receipts() -> Any:
    return MessageReceipt.objects.select_related("user")
