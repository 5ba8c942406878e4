"""Looking up a study, series or instance for a request: the access selectors, a denied
audit row and 404 for anything the user may not see, and the study-view audit row.

Audit policy for images: opening the viewer page writes one view row per study; image
requests (rendered, thumbnails, 16-bit frames, from our viewer, OHIF or any DICOMweb client)
write one view row per user and study per AUDIT_IMAGE_VIEW_SECONDS window, deduplicated
with an atomic Redis `add`, so a 300-slice scroll is one row, not 300.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpRequest

from consult.audit import Action, audit_denied, audit_record
from viewer.models import Instance, Series, Study
from viewer.selectors import studies_visible_to


def _denied(request: HttpRequest, object_type: str, object_id: str) -> Http404:
    audit_denied(request, object_type=object_type, object_id=object_id[:128])
    return Http404()


def may_see_key(user_id: Any, study_id: int) -> str:
    """The cache key of a remembered "yes" (also read by viewer.fastpath)."""
    return f"viewer:may-see:{user_id}:{study_id}"


def study_view_key(user_id: Any, study_id: int) -> str:
    """The cache key that says this window's study-view row is written (viewer.fastpath)."""
    return f"viewer:study-view:{user_id}:{study_id}"


def may_see_study(request: HttpRequest, study_id: int) -> bool:
    """The access selector's answer for one study. A yes is remembered in Redis for
    VIEWER_ACCESS_CACHE_SECONDS (default 60) so that scrolling a 300-slice series asks
    PostgreSQL once, not 300 times; a no is never remembered (each refusal is audited)."""
    user: Any = request.user
    key = may_see_key(user.pk, study_id)
    if cache.get(key):
        return True
    allowed = studies_visible_to(user).filter(pk=study_id).exists()
    if allowed:
        cache.set(key, 1, timeout=getattr(settings, "VIEWER_ACCESS_CACHE_SECONDS", 60))
    return allowed


def get_study_for(request: HttpRequest, study_uid: str) -> Study:
    study = (
        Study.objects.select_related("patient", "hospital")
        .filter(study_instance_uid=study_uid)
        .first()
    )
    if study is None or not may_see_study(request, study.pk):
        raise _denied(request, "study", study_uid)
    return study


def get_series_for(request: HttpRequest, study_uid: str, series_uid: str) -> Series:
    series = (
        Series.objects.select_related("study")
        .filter(series_instance_uid=series_uid, study__study_instance_uid=study_uid)
        .first()
    )
    if series is None or not may_see_study(request, series.study_id):
        raise _denied(request, "series", series_uid)
    return series


def get_instance_for(
    request: HttpRequest, study_uid: str, series_uid: str, sop_uid: str
) -> Instance:
    instance = (
        Instance.objects.select_related("series__study")
        .filter(
            sop_instance_uid=sop_uid,
            series__series_instance_uid=series_uid,
            series__study__study_instance_uid=study_uid,
        )
        .first()
    )
    if instance is None or not may_see_study(request, instance.series.study_id):
        raise _denied(request, "instance", sop_uid)
    return instance


def audit_study_view(request: HttpRequest, study: Study, *, always: bool = False) -> None:
    """One view row per user and study per window (always one when `always`, the page)."""
    user: Any = request.user
    seconds = getattr(settings, "AUDIT_IMAGE_VIEW_SECONDS", 1800)
    key = study_view_key(user.pk, study.pk)
    if cache.add(key, 1, timeout=seconds) or always:
        patient = study.patient if study.patient_id else None
        audit_record(request=request, action=Action.VIEW, obj=study, patient=patient)
