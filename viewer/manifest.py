"""What the viewer page needs for one study, in a fixed number of queries: the header, the
series with their instances' display information, the child's priors and saved measurements.
"""

from __future__ import annotations

from typing import Any

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from consult.ages import pediatric_age
from consult.models import Role, WeightRecord
from viewer import render_cache
from viewer.models import Instance, Measurement, Study
from viewer.selectors import studies_visible_to

DICOMWEB = "/dicomweb/studies/{study}/series/{series}/instances/{instance}"
MODALITY16 = (
    "/viewer/studies/{study}/series/{series}/instances/{instance}/frames/{frame}/modality.png"
)
MODALITY_U16 = MODALITY16.removesuffix(".png") + ".u16"


def can_save_measurements(user: Any) -> bool:
    return getattr(user, "role", None) in (Role.SPECIALIST, Role.ADMIN)


def study_header(study: Study) -> dict[str, Any]:
    patient = study.patient
    header: dict[str, Any] = {
        "name": patient.name if patient else study.patient_name_in_file or _("Unmatched study"),
        "matched": patient is not None,
        "sex": patient.get_sex_display() if patient else "",
        "age": "",
        "weight": "",
        "study_date": date_format(study.study_date) if study.study_date else "",
        "modality": study.modalities,
        "description": study.description,
        "hospital": study.hospital.name,
    }
    if patient and study.study_date:
        header["age"] = pediatric_age(patient.birth_date, study.study_date)
        weight = (
            WeightRecord.objects.filter(patient=patient, measured_on__lte=study.study_date)
            .order_by("-measured_on", "-id")
            .first()
        )
        if weight is not None:
            header["weight"] = _("%(kg)s kg (%(date)s)") % {
                "kg": weight.weight_kg,
                "date": date_format(weight.measured_on),
            }
    return header


def _instance_entry(study: Study, instance: Instance, info: Any) -> dict[str, Any]:
    data = dict(info.info) if info is not None else {}
    return {
        "uid": instance.sop_instance_uid,
        "number": instance.instance_number,
        "frames": data.get("frames") or instance.number_of_frames or 1,
        "rows": data.get("rows") or instance.rows or 0,
        "columns": data.get("columns") or instance.columns or 0,
        "problem": info.problem if info is not None else "",
        "photo_of_film": instance.is_photo_of_film,
        "info": data,
        # No per-instance URLs: the page builds them from the UIDs (DICOMWEB), which keeps
        # the manifest embedded in the page (300 slices: a quarter of it) out of the way of
        # its first image.
    }


def study_manifest(study: Study, user: Any) -> dict[str, Any]:
    series_list = list(study.series.order_by("series_number", "id"))
    instances = list(
        Instance.objects.filter(series__study=study)
        .select_related("series")
        .order_by("instance_number", "id")
    )
    infos = render_cache.render_infos(instances)
    by_series: dict[int, list[dict[str, Any]]] = {s.pk: [] for s in series_list}
    for instance in instances:
        by_series[instance.series_id].append(
            _instance_entry(study, instance, infos.get(instance.pk))
        )
    return {
        "uid": study.study_instance_uid,
        "header": study_header(study),
        "modality16": MODALITY16.replace("{study}", study.study_instance_uid),
        "modality_u16": MODALITY_U16.replace("{study}", study.study_instance_uid),
        "series": [
            {
                "uid": s.series_instance_uid,
                "number": s.series_number,
                "modality": s.modality,
                "description": s.description,
                "frame_of_reference": s.frame_of_reference_uid,
                "thumbnail": f"/dicomweb/studies/{study.study_instance_uid}"
                f"/series/{s.series_instance_uid}/thumbnail",
                "instances": by_series[s.pk],
            }
            for s in series_list
        ],
        "measurements": [measurement_json(m) for m in study_measurements(study)],
        "can_save_measurements": can_save_measurements(user),
    }


def study_priors(study: Study, user: Any) -> list[dict[str, Any]]:
    """The same child's other studies that this user may see, newest first."""
    if study.patient_id is None:
        return []
    others = (
        studies_visible_to(user)
        .filter(patient_id=study.patient_id)
        .exclude(pk=study.pk)
        .order_by("-study_date", "-created_at")
    )
    return [
        {
            "uid": s.study_instance_uid,
            "date": date_format(s.study_date) if s.study_date else "",
            "modality": s.modalities,
            "description": s.description,
        }
        for s in others
    ]


def study_measurements(study: Study) -> list[Measurement]:
    return list(
        study.measurements.select_related("instance", "created_by").order_by("created_at", "id")
    )


def measurement_json(m: Measurement) -> dict[str, Any]:
    return {
        "id": m.pk,
        "instance": m.instance.sop_instance_uid,
        "frame": m.frame,
        "kind": m.kind,
        "points": m.points,
        "value": m.value,
        "unit": m.unit,
        "unit_label": m.get_unit_display() if m.unit else "",
        "note": m.note,
        "by": m.created_by.full_name or m.created_by.username,
        "at": m.created_at.isoformat(),
    }
