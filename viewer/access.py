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
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import Exists
from django.http import Http404, HttpRequest

from core.audit import Action, audit_denied, audit_record
from core.revocation import access_generation, access_generation_key
from viewer.models import Instance, Series, Study
from viewer.selectors import studies_visible_to


def _denied(request: HttpRequest, object_type: str, object_id: str) -> Http404:
    audit_denied(request, object_type=object_type, object_id=object_id[:128])
    return Http404()


def may_see_key(user_id: Any, study_id: int) -> str:
    """The cache key of a remembered "yes" ; its value is the
    user's access generation when it was said, and it counts only while that is current."""
    return f"viewer:may-see:{user_id}:{study_id}"


def study_view_key(user_id: Any, study_id: int) -> str:
    """The cache key that says this window's study-view row is written."""
    return f"viewer:study-view:{user_id}:{study_id}"


def may_see_study(request: HttpRequest, study_id: int) -> bool:
    """The access selector's answer for one study. A yes is remembered in Redis for
    VIEWER_ACCESS_CACHE_SECONDS (default 60) so that scrolling a 300-slice series asks
    PostgreSQL once, not 300 times; a no is never remembered (each refusal is audited).
    A yes is stored with the user's access generation and counts only while it is current:
    a change of the user's hospital, role or active flag, or a logout, ends it at once
    (core.revocation)."""
    user: Any = request.user
    key, generation_key = may_see_key(user.pk, study_id), access_generation_key(user.pk)
    found = cache.get_many([key, generation_key])
    generation = found.get(generation_key)
    if generation is None:
        generation = access_generation(user.pk)
    elif found.get(key) == generation:
        return True
    # The user was loaded before the generation was read: the answer also requires that
    # their row is still as loaded, else a change committed in between could be remembered
    # under the new generation (a request in flight at that instant is refused instead).
    unchanged = get_user_model().objects.filter(
        pk=user.pk,
        is_active=True,
        role=user.role,
        hospital_id=user.hospital_id,
        department_id=user.department_id,
    )
    allowed = studies_visible_to(user).filter(pk=study_id).filter(Exists(unchanged)).exists()
    if allowed:
        timeout = getattr(settings, "VIEWER_ACCESS_CACHE_SECONDS", 60)
        cache.set(key, generation, timeout=timeout)
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
