"""Measurements: a specialist's lengths, areas, angles and notes on an image, with the value
computed here from the image's spacing."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from core.audit import Action, audit_record
from viewer.manifest import can_save_measurements
from viewer.measurements import measure
from viewer.models import Instance, Measurement
from viewer.rendering import cache as render_cache


def measurement_create(
    *,
    request: HttpRequest,
    user: Any,
    instance: Instance,
    frame: int,
    kind: str,
    points: Any,
    note: str = "",
) -> Measurement:
    """Save a specialist's measurement; the value is computed here from the image's spacing."""
    if not can_save_measurements(user):
        raise PermissionDenied(_("Only specialists save measurements."))
    info = render_cache.render_info(instance).info
    rows, columns = (
        info.get("rows") or instance.rows or 0,
        info.get("columns") or instance.columns or 0,
    )
    frames = info.get("frames") or instance.number_of_frames or 1
    if not 1 <= frame <= frames:
        raise ValidationError(_("There is no such frame."))
    try:
        clean = measure.valid_points(kind, points, rows, columns)
    except (TypeError, ValueError) as exc:
        raise ValidationError(_("The measurement's points are not valid.")) from exc
    if kind == "arrow" and not note.strip():
        raise ValidationError(_("An arrow needs a note."))
    spacing, unit = measure.spacing_for(info.get("pixel_spacing"), info.get("imager_pixel_spacing"))
    try:
        value, unit = measure.measure(kind, clean, spacing, unit)
    except ValueError as exc:
        raise ValidationError(_("The angle's arms must have length.")) from exc
    study = instance.series.study
    with transaction.atomic():
        m = Measurement.objects.create(
            study=study,
            instance=instance,
            frame=frame,
            kind=kind,
            points=clean,
            value=value,
            unit=unit,
            note=note.strip()[:200],
            created_by=user,
        )
        audit_record(request=request, action=Action.CREATE, obj=m, patient=study.patient)
    return m


def measurement_delete(*, request: HttpRequest, user: Any, measurement: Measurement) -> None:
    """Remove one's own measurement (a signed report keeps its own copy of the values)."""
    if measurement.created_by_id != user.pk:
        raise PermissionDenied(_("Only the specialist who made a measurement removes it."))
    with transaction.atomic():
        audit_record(
            request=request,
            action=Action.UPDATE,
            obj=measurement,
            patient=measurement.study.patient,
            reason="measurement deleted",
        )
        measurement.delete()
