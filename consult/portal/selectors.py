"""What the guardian's report page shows: key images and the plain-language summary.

Key images are chosen, not browsed: the frames the specialist measured, then the middle
image of each series, at most PORTAL_MAX_IMAGES. They are addressed by position in this
list, never by a database id, so there is nothing in a URL to change to reach another image.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings

from consult.models import Report
from viewer.models import Instance, Measurement, Series


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
