"""Structured report templates per subspecialty: the fields each one asks for.

A field is (name, label, kind, options): kind "text", "number" (with min/max and
unit) or "choice". Values are stored in Report.data; findings, impression,
recommendation and the transfer flag are common to every template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str = "text"
    choices: tuple[tuple[str, str], ...] = ()
    min: float | None = None
    max: float | None = None
    unit: str = ""


@dataclass(frozen=True)
class Template:
    code: str
    label: str
    fields: tuple[Field, ...] = field(default_factory=tuple)


YES_NO = (("yes", _("Yes")), ("no", _("No")), ("unclear", _("Unclear")))

TEMPLATES: dict[str, Template] = {
    t.code: t
    for t in (
        Template("general", _("General")),
        Template(
            "cardiac",
            _("Congenital heart disease (segmental)"),
            (
                Field(
                    "situs",
                    _("Visceroatrial situs"),
                    "choice",
                    (
                        ("solitus", _("Solitus")),
                        ("inversus", _("Inversus")),
                        ("ambiguus", _("Ambiguus")),
                    ),
                ),
                Field("av_connection", _("Atrioventricular connection")),
                Field("va_connection", _("Ventriculoarterial connection")),
                Field("septal_defects", _("Septal defects")),
                Field("great_arteries", _("Great arteries and arch")),
                Field("associated", _("Associated lesions")),
            ),
        ),
        Template(
            "gi",
            _("GI / intussusception"),
            (
                Field("intussusception", _("Intussusception"), "choice", YES_NO),
                Field("location", _("Location")),
                Field("length_cm", _("Length"), "number", min=0, max=60, unit="cm"),
                Field("lead_point", _("Pathological lead point")),
                Field("free_fluid", _("Free fluid"), "choice", YES_NO),
                Field(
                    "perfusion",
                    _("Bowel wall perfusion"),
                    "choice",
                    (
                        ("preserved", _("Preserved")),
                        ("reduced", _("Reduced")),
                        ("absent", _("Absent")),
                    ),
                ),
            ),
        ),
        Template(
            "hip",
            _("Hip (DDH)"),
            (
                Field(
                    "side",
                    _("Side"),
                    "choice",
                    (("left", _("Left")), ("right", _("Right")), ("both", _("Both"))),
                ),
                Field(
                    "graf_type",
                    _("Graf type"),
                    "choice",
                    tuple(
                        (c, c) for c in ("Ia", "Ib", "IIa", "IIb", "IIc", "D", "IIIa", "IIIb", "IV")
                    ),
                ),
                Field("alpha", _("Alpha angle"), "number", min=0, max=90, unit="°"),
                Field("beta", _("Beta angle"), "number", min=0, max=120, unit="°"),
                Field("acetabular_index", _("Acetabular index"), "number", min=0, max=60, unit="°"),
            ),
        ),
        Template(
            "tumour",
            _("Tumour"),
            (
                Field("location", _("Location / organ of origin")),
                Field("size_x", _("Size, axis 1"), "number", min=0, max=500, unit="mm"),
                Field("size_y", _("Size, axis 2"), "number", min=0, max=500, unit="mm"),
                Field("size_z", _("Size, axis 3"), "number", min=0, max=500, unit="mm"),
                Field("features", _("Features (margins, calcification, vessels)")),
                Field("spread", _("Local spread and metastases")),
            ),
        ),
        Template(
            "neuro",
            _("Neuro"),
            (
                Field("ventricles", _("Ventricles")),
                Field("parenchyma", _("Parenchyma and myelination")),
                Field("midline", _("Midline structures")),
                Field("hemorrhage", _("Haemorrhage"), "choice", YES_NO),
            ),
        ),
    )
}

BY_SUBSPECIALTY = {
    "cardiac": "cardiac",
    "abdominal": "gi",
    "msk": "hip",
    "oncology": "tumour",
    "neuro": "neuro",
}


def template_for(subspecialty: str) -> Template:
    return TEMPLATES[BY_SUBSPECIALTY.get(subspecialty, "general")]


def clean_data(template: Template, raw: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Keep the template's fields only; check numbers and choices. Returns (data, errors)."""
    data: dict[str, str] = {}
    errors: list[str] = []
    for f in template.fields:
        value = (raw.get(f.name) or "").strip()
        if not value:
            continue
        if f.kind == "number":
            try:
                number = Decimal(value)
            except InvalidOperation:
                errors.append(gettext("%(field)s must be a number.") % {"field": f.label})
                continue
            if (f.min is not None and number < Decimal(str(f.min))) or (
                f.max is not None and number > Decimal(str(f.max))
            ):
                errors.append(
                    gettext("%(field)s must be between %(min)s and %(max)s %(unit)s.")
                    % {"field": f.label, "min": f.min, "max": f.max, "unit": f.unit}
                )
                continue
        if f.kind == "choice" and value not in {c for c, _label in f.choices}:
            errors.append(gettext("%(field)s: choose one of the options.") % {"field": f.label})
            continue
        data[f.name] = value
    return data, errors


def display_rows(template: Template, data: dict[str, str]) -> list[tuple[str, str]]:
    """(label, value with unit or choice label) for the filled fields, in template order."""
    rows = []
    for f in template.fields:
        value = data.get(f.name)
        if not value:
            continue
        if f.kind == "choice":
            value = str(dict(f.choices).get(value, value))
        elif f.unit:
            value = f"{value} {f.unit}"
        rows.append((str(f.label), value))
    return rows
