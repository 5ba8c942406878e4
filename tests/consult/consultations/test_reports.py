"""Structured reports: drafts with an optimistic lock, signing with the password, amendments
as new versions, and the PDF (Chinese text extracted back with pypdf)."""

import io

import pytest
from django.urls import reverse
from django.utils import translation
from pypdf import PdfReader

from consult.consultations.report_pdf import report_pdf
from consult.consultations.reports import StaleReportError, report_amend, report_save, report_sign
from consult.consultations.services import ConsultationError
from consult.models import Report, Status
from core.audit import SYSTEM
from tests.factories import PASSWORD
from tests.second_factor import second_factor_passed

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

GI = {
    "intussusception": "yes",
    "location": "回结肠型",
    "length_cm": "4.5",
    "lead_point": "息肉 1.5 cm",
    "free_fluid": "no",
    "perfusion": "preserved",
}


def _write(case, user, edit_version=0, **extra):
    fields = {
        "template": "gi",
        "data": GI,
        "findings": "右中腹见“同心圆”征，其内可见1.5 cm息肉。",
        "impression": "回结肠型肠套叠，息肉为病理性诱发点。",
        "recommendation": "建议转诊省儿童医院小儿外科手术。",
        "transfer_recommended": True,
        "transfer_urgency": "urgent",
        **extra,
    }
    return report_save(
        context=SYSTEM, consultation=case, actor=user, edit_version=edit_version, **fields
    )


def test_sign_makes_the_case_reported_and_stops_the_clock(in_review):
    specialist = in_review.assigned_to
    draft = _write(in_review, specialist)
    signed = report_sign(
        context=SYSTEM, consultation=in_review, actor=specialist, password=PASSWORD
    )
    in_review.refresh_from_db()
    assert signed.status == Report.Status.SIGNED and signed.signed_at
    assert in_review.status == Status.REPORTED and in_review.next_deadline is None
    assert signed.data["length_cm"] == "4.5" and draft.pk == signed.pk
    assert in_review.requested_by.notifications.filter(kind="report").exists()


def test_wrong_password_does_not_sign(in_review):
    _write(in_review, in_review.assigned_to)
    with pytest.raises(ConsultationError, match="password is not correct"):
        report_sign(
            context=SYSTEM, consultation=in_review, actor=in_review.assigned_to, password="wrong"
        )
    assert in_review.reports.get().status == Report.Status.DRAFT


def test_an_empty_report_cannot_be_signed(in_review):
    _write(in_review, in_review.assigned_to, findings="", impression=" ")
    with pytest.raises(ConsultationError, match="empty report"):
        report_sign(
            context=SYSTEM, consultation=in_review, actor=in_review.assigned_to, password=PASSWORD
        )


def test_structured_values_are_checked(in_review):
    with pytest.raises(ConsultationError, match="between 0 and 60"):
        _write(in_review, in_review.assigned_to, data={**GI, "length_cm": "99"})
    with pytest.raises(ConsultationError, match="must be a number"):
        _write(in_review, in_review.assigned_to, template="hip", data={"alpha": "abc"})


def test_a_stale_edit_is_refused_and_nothing_is_overwritten(in_review):
    specialist = in_review.assigned_to
    first = _write(in_review, specialist)
    opened_by_a = opened_by_b = first.edit_version
    _write(in_review, specialist, edit_version=opened_by_a, impression="A 的结论")
    with pytest.raises(StaleReportError, match="Somebody saved this report"):
        _write(in_review, specialist, edit_version=opened_by_b, impression="B 的结论")
    assert in_review.reports.get().impression == "A 的结论"


def test_signed_reports_never_change(in_review):
    specialist = in_review.assigned_to
    draft = _write(in_review, specialist)
    report_sign(context=SYSTEM, consultation=in_review, actor=specialist, password=PASSWORD)
    with pytest.raises(ConsultationError):
        _write(in_review, specialist, edit_version=draft.edit_version, impression="改")
    assert Report.objects.get(pk=draft.pk).impression.startswith("回结肠型")


def test_amendment_is_a_new_version_and_supersedes_the_old(in_review, coordinator):
    specialist = in_review.assigned_to
    _write(in_review, specialist)
    v1 = report_sign(context=SYSTEM, consultation=in_review, actor=specialist, password=PASSWORD)
    with pytest.raises(ConsultationError, match="reason"):
        report_amend(context=SYSTEM, consultation=in_review, actor=specialist, reason="")
    v2 = report_amend(
        context=SYSTEM, consultation=in_review, actor=specialist, reason="息肉大小更正"
    )
    assert v2.version == 2 and v2.findings == v1.findings
    _write(in_review, specialist, edit_version=v2.edit_version, findings="息肉约1.8 cm。")
    report_sign(context=SYSTEM, consultation=in_review, actor=specialist, password=PASSWORD)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert v1.status == Report.Status.SUPERSEDED and v2.status == Report.Status.SIGNED
    for person in (in_review.requested_by, coordinator):
        assert person.notifications.filter(kind="report_amended", channel="in_app").exists()


def test_report_pdf_renders_chinese_and_the_facts(in_review):
    specialist = in_review.assigned_to
    _write(in_review, specialist)
    report = report_sign(
        context=SYSTEM, consultation=in_review, actor=specialist, password=PASSWORD
    )
    with translation.override("zh-hans"):
        pdf = report_pdf(report)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    compact = text.replace(" ", "").replace("\n", "")
    for expected in (
        "李小明",
        "永嘉县人民医院",
        "省儿童医院",
        "回结肠型肠套叠",
        "刘主任",
        "腹部超声",
    ):
        assert expected in compact, expected


def test_doctor_downloads_the_pdf_and_outsider_cannot(login, in_review, outsider):
    _write(in_review, in_review.assigned_to)
    report_sign(
        context=SYSTEM, consultation=in_review, actor=in_review.assigned_to, password=PASSWORD
    )
    url = reverse("consultation-report-pdf", args=[in_review.pk, 1])
    response = login(in_review.requested_by).get(url)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert login(outsider).get(url).status_code == 404


def test_sign_through_the_page(login, in_review):
    client = login(in_review.assigned_to)
    second_factor_passed(client)  # signing wants a recent second factor (test_two_factor.py)
    url = reverse("consultation-report", args=[in_review.pk])
    form = {
        "template": "gi",
        "data_intussusception": "yes",
        "findings": "同心圆征",
        "impression": "肠套叠",
        "edit_version": "0",
    }
    client.post(url, form)
    response = client.post(
        url, {**form, "edit_version": "1", "sign": "1", "password": "nope"}, follow=True
    )
    assert in_review.reports.get().status == Report.Status.DRAFT
    assert "password" in response.content.decode().lower() or "密码" in response.content.decode()
    client.post(url, {**form, "edit_version": "2", "sign": "1", "password": PASSWORD})
    assert in_review.reports.get().status == Report.Status.SIGNED


def test_measurements_saved_in_the_viewer_are_offered_to_the_report_writer(
    in_review, on_call_specialist, client
):
    from tests.factories import InstanceFactory, SeriesFactory
    from viewer.models import Measurement

    study = in_review.studies.first()
    series = SeriesFactory(study=study, series_number=3)
    instance = InstanceFactory(series=series, instance_number=14, sending_hospital=study.hospital)
    Measurement.objects.create(
        study=study,
        instance=instance,
        kind="length",
        points=[[0, 0], [10, 0]],
        value=12.34,
        unit="mm",
        created_by=on_call_specialist,
    )
    client.force_login(on_call_specialist)
    client.cookies["django_language"] = "en"
    body = client.get(reverse("consultation-detail", args=[in_review.pk])).content.decode()
    assert "Length 12.3 mm (series 3, image 14)" in body
    assert 'data-text="Length 12.3 mm (series 3, image 14)"' in body
    assert "Insert into findings" in body
