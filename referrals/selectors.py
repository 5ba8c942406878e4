"""Reads of referrals with the access rule built in, and the statistics helpers.

Referring hospital: its own referrals (source hospital). Receiving department: the
referrals addressed to it (its members, its head). Coordinators and alliance admins: all.
Everyone else: none (views answer 404 and write a denied audit row).
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils.timezone import now

from consult.models import Consultation, Department, Report, Role
from referrals.models import OPEN_STATUSES, Referral, ReferralEvent, Status

# The receiving department keeps reading the child's report and studies this long after
# the referral closes (completed or cancelled).
SHARE_AFTER_CLOSE = dt.timedelta(days=30)


def _active(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active)


def _department_rule(user: Any) -> Q:
    rule = Q(receiving_department__head=user)
    if user.department_id:
        rule |= Q(receiving_department_id=user.department_id)
    return rule


def referrals_visible_to(user: Any) -> QuerySet[Referral]:
    """Referrals a user may open."""
    if not _active(user):
        return Referral.objects.none()
    if user.role in (Role.COORDINATOR, Role.ADMIN):
        return Referral.objects.all()
    rule = _department_rule(user)
    if user.role == Role.REFERRING_DOCTOR and user.hospital_id:
        rule |= Q(source_hospital_id=user.hospital_id)
    return Referral.objects.filter(rule)


def referrals_sharing_with(user: Any, at: dt.datetime | None = None) -> QuerySet[Referral]:
    """Referrals through which the receiving side may read the child's data: addressed to the
    user's department, open or closed less than 30 days ago. Coordinators: every such one."""
    if not _active(user):
        return Referral.objects.none()
    window = Q(status__in=OPEN_STATUSES) | Q(closed_at__gte=(at or now()) - SHARE_AFTER_CLOSE)
    if user.role == Role.COORDINATOR:
        return Referral.objects.filter(window)
    return Referral.objects.filter(window & _department_rule(user))


def department_worklist(user: Any) -> QuerySet[Referral]:
    """The receiving department's incoming referrals that still need something from it."""
    if not _active(user):
        return Referral.objects.none()
    return (
        Referral.objects.filter(_department_rule(user))
        .filter(status__in=[s for s in OPEN_STATUSES if s != Status.DECLINED])
        .order_by(F("due_at").asc(nulls_last=True), "scheduled_for", "requested_at")
    )


def acts_for_any_department(user: Any) -> bool:
    return _active(user) and (
        bool(user.department_id) or user.headed_departments.filter(accepts_referrals=True).exists()
    )


def acts_for_department(user: Any, department: Department) -> bool:
    """May `user` answer for the receiving department (accept, schedule, record arrival)?

    Its members, its head (`Department.head`), and the coordinators of the receiving
    hospital (they arrange a transfer with the department by phone and may record its
    answer)."""
    if not _active(user):
        return False
    return (
        user.department_id == department.pk
        or department.head_id == user.pk
        or (user.role == Role.COORDINATOR and user.hospital_id == department.hospital_id)
    )


def is_source_side(user: Any, referral: Referral) -> bool:
    return user.role == Role.REFERRING_DOCTOR and user.hospital_id == referral.source_hospital_id


# --- what the pages show --------------------------------------------------------------------

LIST_SELECT = (
    "patient",
    "source_hospital",
    "receiving_hospital",
    "receiving_department",
    "source_doctor",
)
BOARD_ORDER = [
    Status.REQUESTED,
    Status.DECLINED,
    Status.ACCEPTED,
    Status.SCHEDULED,
    Status.IN_TRANSIT,
    Status.ARRIVED,
    Status.COMPLETED,
    Status.CANCELLED,
]
CLOSED_SHOWN = 50


def referrals_for_pages(user: Any) -> QuerySet[Referral]:
    """The referrals `user` may open, with what the detail pages and the sheet show."""
    return referrals_visible_to(user).select_related(*LIST_SELECT, "report", "consultation")


def referrals_by_state(rows: QuerySet[Referral]) -> list[tuple[str, str, list[Referral]]]:
    """Open referrals per state (deadline first), then the latest closed ones."""
    open_rows = list(
        rows.filter(status__in=OPEN_STATUSES).order_by("due_at", "scheduled_for", "requested_at")
    )
    closed = list(rows.exclude(status__in=OPEN_STATUSES).order_by("-closed_at")[:CLOSED_SHOWN])
    groups: list[tuple[str, str, list[Referral]]] = []
    for status in BOARD_ORDER:
        members = [r for r in open_rows + closed if r.status == status]
        if members:
            groups.append((str(Status(status).label), status, members))
    return groups


def recommended_not_requested() -> QuerySet[Consultation]:
    """Consultations whose signed report recommends a transfer that nobody has requested yet."""
    return (
        Consultation.objects.filter(
            Exists(
                Report.objects.filter(
                    consultation=OuterRef("pk"),
                    status=Report.Status.SIGNED,
                    transfer_recommended=True,
                )
            )
        )
        .exclude(Exists(Referral.objects.filter(consultation=OuterRef("pk"))))
        .select_related("patient", "hospital")
        .order_by("-reported_at")[:50]
    )


def referral_lists(user: Any) -> dict[str, Any]:
    """The list page per role: coordinators and admins the board by state and the transfers
    recommended but not requested; receiving departments their worklist; referring doctors
    their hospital's referrals. A key is missing when the user has no such list."""
    lists: dict[str, Any] = {"role": user.role}
    visible = referrals_visible_to(user).select_related(*LIST_SELECT)
    if user.role in (Role.COORDINATOR, Role.ADMIN):
        lists["board"] = referrals_by_state(visible)
        lists["recommended"] = list(recommended_not_requested())
    if acts_for_any_department(user):
        lists["worklist"] = list(department_worklist(user).select_related(*LIST_SELECT))
    if user.role == Role.REFERRING_DOCTOR:
        lists["own"] = referrals_by_state(visible.filter(source_hospital_id=user.hospital_id))
    return lists


def referral_detail_context(user: Any, referral: Referral) -> dict[str, Any]:
    """The referral page's reads: the timeline, the studies, and which side `user` is on."""
    source_side = is_source_side(user, referral)
    return {
        "r": referral,
        "events": referral.events.select_related("actor", "department"),
        "studies": referral.studies.all(),
        "department_side": acts_for_department(user, referral.receiving_department),
        "source_side": source_side,
        "is_coordinator": user.role == Role.COORDINATOR,
        "can_cancel": referral.status not in (Status.ARRIVED, Status.COMPLETED, Status.CANCELLED)
        and (source_side or user.role == Role.COORDINATOR),
    }


def latest_signed_report(consultation: Consultation) -> Report | None:
    """The consultation's latest signed report: the one a referral carries."""
    return consultation.reports.filter(status=Report.Status.SIGNED).order_by("-version").first()


# --- statistics ---------------------------------------------------------------------------


def _median_hours(spans: list[dt.timedelta]) -> float | None:
    if not spans:
        return None
    return round(statistics.median(s.total_seconds() for s in spans) / 3600, 2)


def referral_time_to_acceptance(referrals: QuerySet[Referral]) -> dict[str, Any]:
    """Hours from the request to acceptance: count and median."""
    rows = referrals.filter(accepted_at__isnull=False).values_list("requested_at", "accepted_at")
    spans = [accepted - requested for requested, accepted in rows if accepted is not None]
    return {"count": len(spans), "median_hours": _median_hours(spans)}


def referral_time_to_arrival(referrals: QuerySet[Referral]) -> dict[str, Any]:
    """Hours from the request to the child's arrival: count and median."""
    rows = referrals.filter(arrived_at__isnull=False).values_list("requested_at", "arrived_at")
    spans = [arrived - requested for requested, arrived in rows if arrived is not None]
    return {"count": len(spans), "median_hours": _median_hours(spans)}


def referral_declines_by_reason(referrals: QuerySet[Referral]) -> dict[str, int]:
    """How many times departments declined, per reason (a referral may be declined twice)."""
    rows = (
        ReferralEvent.objects.filter(referral__in=referrals, to_status=Status.DECLINED)
        .values("decline_reason")
        .annotate(n=Count("id"))
        .order_by("decline_reason")
    )
    return {row["decline_reason"]: row["n"] for row in rows}
