"""Portal reads: who may manage a report's links, the links on the consultation page, and
what the guardian's report page shows (key images, the green-channel appointment).

Key images are chosen, not browsed: the frames the specialist measured, then the middle
image of each series, at most PORTAL_MAX_IMAGES. They are addressed by position in this
list, never by a database id, so there is nothing in a URL to change to reach another image.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import Q
from django.utils.timezone import now

from consult.models import PortalShare, Report, Role, User
from viewer.models import Instance, Measurement, Series


def may_manage_shares(user: User, report: Report) -> bool:
    """The referring hospital's doctors and the coordinators may share and revoke."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.role == Role.COORDINATOR:
        return True
    return (
        user.role == Role.REFERRING_DOCTOR and user.hospital_id == report.consultation.hospital_id
    )


def shares_for_consultation(consultation_id: int) -> list[PortalShare]:
    return list(
        PortalShare.objects.filter(report__consultation_id=consultation_id)
        .select_related("guardian", "report", "created_by", "revoked_by")
        .order_by("-report__version", "guardian_id", "-created_at")
    )


def active_share_q() -> Q:
    return Q(revoked_at__isnull=True, expires_at__gt=now())


def max_images() -> int:
    return int(getattr(settings, "PORTAL_MAX_IMAGES", 8))


def key_images(report: Report) -> list[Instance]:
    study_ids = list(report.consultation.studies.values_list("pk", flat=True))
    chosen: list[int] = []
    measured = (
        Measurement.objects.filter(study_id__in=study_ids, instance__series__study_id__in=study_ids)
        .order_by("created_at", "id")
        .values_list("instance_id", flat=True)
    )
    for pk in measured:
        if pk not in chosen:
            chosen.append(pk)
    series = Series.objects.filter(study_id__in=study_ids).order_by(
        "study__study_date", "study_id", "series_number", "id"
    )
    for s in series.prefetch_related("instances"):
        instances = sorted(s.instances.all(), key=lambda i: (i.instance_number or 0, i.pk))
        if instances:
            middle = instances[len(instances) // 2].pk
            if middle not in chosen:
                chosen.append(middle)
    chosen = chosen[: max_images()]
    by_pk = Instance.objects.in_bulk(chosen)
    return [by_pk[pk] for pk in chosen if pk in by_pk]


def green_channel_appointment(report: Report) -> Any | None:
    """The scheduled green-channel referral that follows this consultation, if any.

    The referrals app (issue 8) is optional here: until its `Referral` model exists there is
    no appointment to show and the page says what the specialist recommends instead.
    """
    try:
        referral_model = apps.get_model("referrals", "Referral")
    except LookupError:
        return None
    consultation = report.consultation
    return (
        referral_model.objects.filter(
            consultation_id=consultation.pk,
            patient_id=consultation.patient_id,
            status__in=("scheduled", "in_transit"),
        )
        .select_related("receiving_hospital", "receiving_department")
        .order_by("-scheduled_for", "-id")
        .first()
    )
