"""What the viewer page needs for one study, in a fixed number of queries: the header, the
series with their instances' display information, the child's priors and saved measurements.
"""

from __future__ import annotations

from typing import Any

from django.utils.formats import date_format
from django.utils.translation import gettext as _

from consult.ages import pediatric_age
from consult.models import Role, WeightRecord
from viewer.models import Instance, Measurement, Study
from viewer.rendering import cache as render_cache
from viewer.rendering import links as frame_links
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


# The instance columns the manifest reads, with the render information joined in: one
# query of plain tuples (no model objects) for a study of any size.
_INSTANCE_COLUMNS = (
    "pk",
    "series_id",
    "sop_instance_uid",
    "instance_number",
    "number_of_frames",
    "rows",
    "columns",
    "is_photo_of_film",
    "render_info__pk",
    "render_info__info",
    "render_info__problem",
    "sha256",
    "render_info__cached_at",
)


def _instance_entry(row: tuple, info: dict, problem: str, study_id: int) -> dict[str, Any]:
    pk, _series, uid, number, frames, rows, columns, photo = row[:8]
    sha256, cached_at = row[11:13]
    entry = {
        "uid": uid,
        "number": number,
        "frames": info.get("frames") or frames or 1,
        "rows": info.get("rows") or rows or 0,
        "columns": info.get("columns") or columns or 0,
        "problem": problem,
        "photo_of_film": photo,
        "info": info,
        # No per-instance URLs: the page builds them from the UIDs (DICOMWEB), or, once the
        # render worker has cached the instance, from this key and the page's grant
        # (viewer/rendering/links.py).
    }
    if cached_at is not None and sha256:
        entry["k"] = frame_links.instance_key(study_id, pk, sha256)
    return entry


def _instance_rows(study: Study) -> list[tuple[tuple, dict, str]]:
    """(row, info, problem) per instance in display order. An instance whose header was
    never read (no render task ran yet) has it read now, once."""
    rows = list(
        Instance.objects.filter(series__study=study)
        .order_by("instance_number", "id")
        .values_list(*_INSTANCE_COLUMNS)
    )
    unread = [row[0] for row in rows if row[8] is None]
    read_now = {}
    if unread:
        read_now = render_cache.render_infos(Instance.objects.filter(pk__in=unread))
    out = []
    for row in rows:
        if row[8] is None:
            made = read_now[row[0]]
            out.append((row, dict(made.info or {}), made.problem))
        else:
            out.append((row, dict(row[9] or {}), row[10] or ""))
    return out


def study_manifest(study: Study, user: Any) -> dict[str, Any]:
    series_list = list(study.series.order_by("series_number", "id"))
    by_series: dict[int, list[dict[str, Any]]] = {s.pk: [] for s in series_list}
    for row, info, problem in _instance_rows(study):
        by_series[row[1]].append(_instance_entry(row, info, problem, study.pk))
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


def wire_form(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest as the page receives it: what every instance of a series has in common
    (size, frames, window, spacing, orientation… most of a CT slice's entry) is written once
    under the series' "shared", so a 300-slice study embeds ~60 KB instead of ~200 KB in
    the page in front of its first image. static/js/viewer/main.js (expandManifest) and
    `expand` below rebuild the full entries."""
    series_out = []
    for series in manifest["series"]:
        instances = series["instances"]
        shared = _common(instances, skip=("uid", "number", "info"))
        shared_info = _common([i["info"] for i in instances], skip=())
        if shared_info:
            shared["info"] = shared_info
        slim = []
        for instance in instances:
            entry = {k: v for k, v in instance.items() if k != "info" and k not in shared}
            entry["info"] = {k: v for k, v in instance["info"].items() if k not in shared_info}
            slim.append(entry)
        series_out.append({**series, "shared": shared, "instances": slim})
    return {**manifest, "series": series_out}


def _common(items: list[dict[str, Any]], *, skip: tuple[str, ...]) -> dict[str, Any]:
    """The keys every item has, with the same value in all (none for an empty list)."""
    if not items:
        return {}
    first = items[0]
    return {
        key: value
        for key, value in first.items()
        if key not in skip and all(key in item and item[key] == value for item in items[1:])
    }


def expand(wire: dict[str, Any]) -> dict[str, Any]:
    """The full manifest from its wire form (the inverse of `wire_form`)."""
    series_out = []
    for series in wire["series"]:
        shared = dict(series.get("shared") or {})
        shared_info = shared.pop("info", {})
        instances = [
            {**shared, **i, "info": {**shared_info, **i.get("info", {})}}
            for i in series["instances"]
        ]
        series_out.append(
            {k: v for k, v in series.items() if k != "shared"} | {"instances": instances}
        )
    return {**wire, "series": series_out}


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
