"""QIDO-RS `includefield` (PS3.18 §8.3.4.3): which attributes a search result carries
beyond the defaults.

`includefield` may repeat and each value may list several attributes, comma-separated, as
keywords (`InstitutionName`) or tags (`00080080`); `all` asks for every attribute we index.
Attributes we index come from the database. Any other named attribute is read from the
stored header of a representative instance (the first of the study or series; the instance
itself), only when a client names it, and only for the first QIDO_MAX_HEADER_READS results
(default 100); the answer then carries a `Warning` header saying so.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pydicom
from django.conf import settings
from django.db.models import OuterRef, Subquery
from pydicom.datadict import tag_for_keyword

from viewer import storage
from viewer.models import Instance, Series, Study

log = logging.getLogger(__name__)
BINARY_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
MAX_BINARY = 4096
ORDER = ("series__series_number", "series_id", "instance_number", "id")


class BadInclude(ValueError):
    pass


@dataclass
class Include:
    all: bool = False
    tags: set[str] = field(default_factory=set)  # 8 upper-case hex digits

    def wants(self, tag: str) -> bool:
        return self.all or tag in self.tags


def parse(query: Any) -> Include:
    """Every includefield value of a QueryDict (any letter case of the key)."""
    include = Include()
    for key in query:
        if key.lower() != "includefield":
            continue
        for value in query.getlist(key):
            for item in (p.strip() for p in value.split(",")):
                if item:
                    _add(include, item)
    return include


def _add(include: Include, item: str) -> None:
    if item.lower() == "all":
        include.all = True
        return
    top = item.split(".", 1)[0]  # a sequence path: the whole top-level sequence
    if re.fullmatch(r"[0-9A-Fa-f]{8}", top):
        include.tags.add(top.upper())
        return
    tag = tag_for_keyword(top)
    if tag is None:
        raise BadInclude(f"includefield: {item!r} is neither a DICOM keyword nor a tag.")
    include.tags.add(f"{tag:08X}")


# --- what the index knows, per level ------------------------------------------------------


def text_value(value: str, vr: str = "LO") -> dict[str, Any]:
    """A DICOM JSON attribute of one string value (none when empty)."""
    return {"vr": vr, "Value": [value]} if value else {"vr": vr}


def _pn(value: str) -> dict[str, Any]:
    from viewer.ingest.reader import person_name_groups

    return {"vr": "PN", "Value": [person_name_groups(value)]} if value else {"vr": "PN"}


def _int(value: int | None, vr: str = "IS") -> dict[str, Any]:
    return {"vr": vr, "Value": [value]} if value is not None else {"vr": vr}


def study_indexed(study: Study) -> dict[str, dict[str, Any]]:
    return {
        "00080020": text_value(
            study.study_date.strftime("%Y%m%d") if study.study_date else "", "DA"
        ),
        "00080030": text_value(
            study.study_time.strftime("%H%M%S") if study.study_time else "", "TM"
        ),
        "00080050": text_value(study.accession_number, "SH"),
        "00080061": {"vr": "CS", "Value": [m for m in study.modalities.split("\\") if m]},
        "00080080": text_value(study.institution_name),
        "00081030": text_value(study.description),
        "00100010": _pn(study.patient_name_in_file),
        "00100020": text_value(study.patient_id_in_file),
        "0020000D": text_value(study.study_instance_uid, "UI"),
        "00201206": _int(study.number_of_series),
        "00201208": _int(study.number_of_instances),
    }


def series_indexed(series: Series) -> dict[str, dict[str, Any]]:
    return {
        **study_indexed(series.study),
        "0020000E": text_value(series.series_instance_uid, "UI"),
        "00080060": text_value(series.modality, "CS"),
        "0008103E": text_value(series.description),
        "00180015": text_value(series.body_part, "CS"),
        "00200011": _int(series.series_number),
        "00200052": text_value(series.frame_of_reference_uid, "UI"),
        "00201209": _int(series.number_of_instances),
    }


def instance_indexed(instance: Instance) -> dict[str, dict[str, Any]]:
    spacing = [float(v) for v in instance.pixel_spacing.split("\\") if v]
    return {
        **series_indexed(instance.series),
        "00080016": text_value(instance.sop_class_uid, "UI"),
        "00080018": text_value(instance.sop_instance_uid, "UI"),
        "00083002": text_value(instance.transfer_syntax_uid, "UI"),
        "00200013": _int(instance.instance_number),
        "00280008": _int(instance.number_of_frames),
        "00280010": _int(instance.rows or None, "US"),
        "00280011": _int(instance.columns or None, "US"),
        "00280030": {"vr": "DS", "Value": spacing} if spacing else {"vr": "DS"},
    }


# --- representative instances and their headers -----------------------------------------


def _keys_for_studies(studies: list[Study]) -> dict[int, str | None]:
    first = Instance.objects.filter(series__study=OuterRef("pk")).order_by(*ORDER)
    rows = Study.objects.filter(pk__in=[s.pk for s in studies]).annotate(
        key=Subquery(first.values("storage_key")[:1])
    )
    return dict(rows.values_list("pk", "key"))


def _keys_for_series(series: list[Series]) -> dict[int, str | None]:
    first = Instance.objects.filter(series=OuterRef("pk")).order_by("instance_number", "id")
    rows = Series.objects.filter(pk__in=[s.pk for s in series]).annotate(
        key=Subquery(first.values("storage_key")[:1])
    )
    return dict(rows.values_list("pk", "key"))


def _keys_for_instances(instances: list[Instance]) -> dict[int, str | None]:
    return {i.pk: i.storage_key for i in instances}


KEYS: dict[str, Callable[[list], dict[int, str | None]]] = {
    "study": _keys_for_studies,
    "series": _keys_for_series,
    "instance": _keys_for_instances,
}
INDEXED: dict[str, Callable[[Any], dict[str, dict[str, Any]]]] = {
    "study": study_indexed,
    "series": series_indexed,
    "instance": instance_indexed,
}


def header_attributes(key: str, tags: set[str]) -> dict[str, dict[str, Any]]:
    """The named attributes of one stored file's header, as DICOM JSON (no pixels)."""
    wanted = [int(t, 16) for t in tags]
    with storage.open_stored(key) as fp:
        ds = pydicom.dcmread(
            fp, stop_before_pixels=True, specific_tags=[0x00080005, *wanted], force=True
        )
    out = {}
    for tag in wanted:
        if tag not in ds:
            continue
        element = ds[tag]
        if element.VR in BINARY_VRS and len(element.value or b"") > MAX_BINARY:
            continue
        out[f"{tag:08X}"] = element.to_json_dict(None, MAX_BINARY)
    return out


def complete(rows: list[dict[str, Any]], objects: list[Any], level: str, include: Include) -> str:
    """Add the included attributes to each result row (in place). Answers a warning text
    when some rows did not get the header attributes (too many results), else ""."""
    if not include.all and not include.tags:
        return ""
    missing_any = False
    for row, obj in zip(rows, objects, strict=True):
        for tag, value in INDEXED[level](obj).items():
            if include.wants(tag):
                row.setdefault(tag, value)
        missing_any |= bool(include.tags - row.keys())
    if not missing_any:
        return ""
    cap = getattr(settings, "QIDO_MAX_HEADER_READS", 100)
    keys = KEYS[level](objects[:cap])
    for row, obj in zip(rows[:cap], objects[:cap], strict=True):
        missing = include.tags - row.keys()
        if missing and keys.get(obj.pk):
            try:
                row.update(header_attributes(keys[obj.pk], missing))
            except (OSError, pydicom.errors.InvalidDicomError) as exc:
                log.warning("QIDO includefield: header of %s unreadable: %s", obj.pk, exc)
    if len(rows) > cap:
        return f"includefield attributes from stored headers only for the first {cap} results"
    return ""
