"""The report as a PDF (reportlab). Chinese text uses the CID font STSong-Light, which every
PDF reader carries, so nothing needs to be embedded."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from consult.ages import pediatric_age
from consult.consultations.report_templates import TEMPLATES, display_rows
from consult.models import Report

FONT = "STSong-Light"


def _styles() -> dict[str, ParagraphStyle]:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    base = ParagraphStyle("base", fontName=FONT, fontSize=10.5, leading=15, wordWrap="CJK")
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=16, leading=22, spaceAfter=4),
        "h": ParagraphStyle("h", parent=base, fontSize=12, leading=18, spaceBefore=8),
        "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=12),
    }


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def report_pdf(report: Report) -> bytes:
    """Render one report version."""
    st = _styles()
    c = report.consultation
    child = c.patient
    expert = report.author.hospital
    signed = localtime(report.signed_at).strftime("%Y-%m-%d %H:%M") if report.signed_at else "—"
    exam_date = min((s.study_date for s in c.studies.all() if s.study_date), default=None)
    age_at = exam_date or (report.signed_at or report.created_at).date()
    story = [
        _p(expert.name if expert else _("PedsLink"), st["small"]),
        _p(_("Pediatric imaging consultation report"), st["title"]),
    ]
    if report.status == Report.Status.SUPERSEDED:
        story.append(_p(_("SUPERSEDED: a newer version of this report exists."), st["h"]))
    meta = [
        (_("Referring hospital"), c.hospital.name),
        (
            _("Child"),
            f"{child.name} · {child.get_sex_display()} · {pediatric_age(child.birth_date, age_at)}",
        ),
        (_("Date of birth"), child.birth_date.isoformat()),
        (_("Case"), f"#{c.pk} · {c.get_subspecialty_display()} · {c.get_priority_display()}"),
        (
            _("Examinations"),
            "; ".join(
                f"{s.study_date or ''} {s.modalities} {s.description}".strip()
                for s in c.studies.all()
            )
            or "—",
        ),
        (_("Report version"), str(report.version)),
    ]
    table = Table(
        [[_p(k, st["small"]), _p(v, st["base"])] for k, v in meta], colWidths=[32 * mm, 138 * mm]
    )
    table.setStyle(
        TableStyle(
            [("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, -1), (-1, -1), 0.5, "#999999")]
        )
    )
    story += [table, Spacer(1, 4 * mm), _p(_("Question"), st["h"])]
    story.append(_p(c.question.strip() or _("not recorded"), st["base"]))
    template = TEMPLATES.get(report.template)
    rows = display_rows(template, report.data) if template else []
    if rows:
        story.append(_p(template.label, st["h"]))
        story.append(
            Table(
                [[_p(k, st["small"]), _p(v, st["base"])] for k, v in rows],
                colWidths=[50 * mm, 120 * mm],
            )
        )
    for label, text in (
        (_("Findings"), report.findings),
        (_("Impression"), report.impression),
        (_("Recommendation"), report.recommendation),
    ):
        if text:
            story += [_p(label, st["h"]), _p(text, st["base"])]
    if report.transfer_recommended:
        story += [
            _p(_("Transfer to the expert center recommended"), st["h"]),
            _p(report.get_transfer_urgency_display(), st["base"]),
        ]
    if report.amendment_reason:
        story += [_p(_("Reason for amendment"), st["h"]), _p(report.amendment_reason, st["base"])]
    story += [
        Spacer(1, 8 * mm),
        _p(
            _("Specialist: %(name)s · %(hospital)s")
            % {
                "name": report.author.full_name or report.author.username,
                "hospital": expert.name if expert else "",
            },
            st["base"],
        ),
        _p(
            _("Signed: %(time)s · version %(version)s")
            % {"time": signed, "version": report.version},
            st["base"],
        ),
    ]
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=_("Consultation report #%(id)s") % {"id": c.pk},
    )
    doc.build(story)
    return buffer.getvalue()
