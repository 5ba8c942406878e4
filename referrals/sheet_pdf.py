"""The transfer sheet (PDF, Chinese) for the family and the ambulance crew: the child, the
question, the report's summary, allergies and weight, the schedule and both ends' contacts.
Uses the same CID font as the report PDF, so nothing is embedded."""

from __future__ import annotations

import io

from django.utils import translation
from django.utils.timezone import localtime, now
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import SimpleDocTemplate, Spacer, Table, TableStyle

from consult.ages import pediatric_age
from consult.consultations.report_pdf import _p, _styles
from referrals.models import Referral

SHEET_LANGUAGE = "zh-hans"


def _contact(*parts: object) -> str:
    return " · ".join(str(p) for p in parts if p) or "—"


def transfer_sheet_rows(referral: Referral) -> list[tuple[str, str]]:
    child = referral.patient
    weight = child.weights.order_by("-measured_on", "-id").first()
    report = referral.report
    question = referral.consultation.question if referral.consultation else ""
    summary = ""
    if report is not None:
        summary = "\n".join(t for t in (report.impression, report.recommendation) if t)
    doctor = referral.source_doctor
    department = referral.receiving_department
    head = department.head
    when = (
        localtime(referral.scheduled_for).strftime("%Y-%m-%d %H:%M")
        if referral.scheduled_for
        else "—"
    )
    age = pediatric_age(child.birth_date, now().date())
    return [
        (_("Child"), f"{child.name} · {child.get_sex_display()} · {age}"),
        (_("Date of birth"), child.birth_date.isoformat()),
        (
            _("Weight"),
            f"{weight.weight_kg} kg ({weight.measured_on.isoformat()})"
            if weight
            else _("not recorded"),
        ),
        # Three states: the list, "no known allergies" only when a doctor said so, and
        # "not recorded" for a field nobody filled in (never read as "none").
        (_("Allergies"), child.allergies_display),
        (_("Urgency"), referral.get_urgency_display()),
        (_("Reason for transfer"), referral.reason),
        (_("Diagnosis question"), question or _("not recorded")),
        (
            _("Report summary"),
            summary or (_("not recorded") if report is not None else _("no report attached")),
        ),
        (_("Date and time"), when),
        (_("Where to report"), _contact(referral.report_to, referral.slot)),
        (_("Transport"), referral.get_transport_display() or "—"),
        (_("What to bring"), referral.what_to_bring or "—"),
        (
            _("Referring hospital"),
            _contact(
                referral.source_hospital.name,
                doctor and (doctor.full_name or doctor.username),
                doctor and doctor.mobile,
                referral.source_hospital.phone,
            ),
        ),
        (
            _("Receiving department"),
            _contact(
                referral.receiving_hospital.name,
                department.name,
                department.phone or referral.receiving_hospital.phone,
                head and _("head: %(name)s") % {"name": head.full_name or head.username},
            ),
        ),
    ]


def transfer_sheet_pdf(referral: Referral) -> bytes:
    """Render the sheet; always in Chinese, whatever the reader's language."""
    with translation.override(SHEET_LANGUAGE):
        st = _styles()
        rows = transfer_sheet_rows(referral)
        story = [
            _p(_("PedsLink green channel"), st["small"]),
            _p(_("Transfer sheet · referral #%(id)s") % {"id": referral.pk}, st["title"]),
            Spacer(1, 2 * mm),
        ]
        table = Table(
            [[_p(k, st["small"]), _p(v, st["base"])] for k, v in rows],
            colWidths=[34 * mm, 136 * mm],
        )
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, "#bbbbbb"),
                ]
            )
        )
        story.append(table)
        buffer = io.BytesIO()
        doc = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=20 * mm,
            rightMargin=20 * mm,
            topMargin=18 * mm,
            bottomMargin=18 * mm,
            title=_("Transfer sheet · referral #%(id)s") % {"id": referral.pk},
        )
        doc.build(story)
    return buffer.getvalue()
