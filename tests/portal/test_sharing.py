"""Sharing at signing (hospital default), by the doctor, amendments and superseded links."""

import pytest

from consult.models import PortalShare, Report
from consult.portal.services import PortalError, portal_share_create
from core.audit import SYSTEM
from core.models import Notification
from tests.factories import GuardianFactory
from tests.portal.conftest import link_token, post, sms_code


@pytest.fixture
def reported(in_review, on_call_specialist, password, mother):
    from consult.consultations.reports import report_save

    report_save(
        context=SYSTEM,
        consultation=in_review,
        actor=on_call_specialist,
        edit_version=0,
        findings="右下腹同心圆征。",
        impression="回结肠型肠套叠。",
    )
    return in_review


def _sign(consultation, user, password, captured):  # noqa: ANN001, ANN202
    from consult.consultations.reports import report_sign

    with captured(execute=True):
        return report_sign(context=SYSTEM, consultation=consultation, actor=user, password=password)


def test_signing_shares_with_every_guardian_by_default(
    reported, on_call_specialist, password, mother, father, django_capture_on_commit_callbacks
):
    report = _sign(reported, on_call_specialist, password, django_capture_on_commit_callbacks)
    shares = PortalShare.objects.filter(report=report)
    assert {s.guardian_id for s in shares} == {mother.pk, father.pk}
    assert Notification.objects.filter(kind="portal_link").count() == 2


def test_no_automatic_share_when_the_hospital_turned_it_off(
    reported, on_call_specialist, password, mother, django_capture_on_commit_callbacks
):
    hospital = reported.hospital
    hospital.share_reports_with_guardians = False
    hospital.save()
    _sign(reported, on_call_specialist, password, django_capture_on_commit_callbacks)
    assert not PortalShare.objects.exists()


def test_amendment_is_shared_again_and_the_old_link_leads_to_the_new_version(
    reported,
    on_call_specialist,
    password,
    mother,
    child,
    client,
    english,
    django_capture_on_commit_callbacks,
):
    from consult.consultations.reports import report_amend, report_save

    v1 = _sign(reported, on_call_specialist, password, django_capture_on_commit_callbacks)
    old_token = link_token(mother.mobile)
    draft = report_amend(
        context=SYSTEM, consultation=reported, actor=on_call_specialist, reason="补充诊断"
    )
    report_save(
        context=SYSTEM,
        consultation=reported,
        actor=on_call_specialist,
        edit_version=draft.edit_version,
        findings="右下腹同心圆征，可见淋巴结。",
        impression="回结肠型肠套叠，伴肠系膜淋巴结肿大。",
    )
    v2 = _sign(reported, on_call_specialist, password, django_capture_on_commit_callbacks)
    assert PortalShare.objects.filter(report=v2).count() == 1
    v1.refresh_from_db()
    assert v1.status == Report.Status.SUPERSEDED

    client.get(f"/p/{old_token}")
    assert "A newer version of this report exists" in client.get("/p/").content.decode()
    response = post(client, {"action": "dob", "birth_date": child.birth_date.isoformat()})
    assert response["Location"] == "/p/?newer=1"
    assert "We sent a new code" in client.get(response["Location"]).content.decode()
    post(client, {"action": "code", "code": sms_code(mother.mobile)})
    page = client.get("/p/report/").content.decode()
    assert "伴肠系膜淋巴结肿大" in page


def test_doctor_shares_from_the_case_page_and_sees_openings(
    share_link, opened, login, county_doctor, signed_report, client_factory
):
    guardian_client = client_factory()
    opened(guardian_client)
    guardian_client.get("/p/report/")
    doctor = login(county_doctor)
    page = doctor.get(f"/consultations/{signed_report.consultation_id}/").content.decode()
    assert 'id="portal"' in page
    assert "李妈妈" in page and "2" in page


def test_doctor_can_share_with_chosen_guardians_only_of_this_child(
    signed_report, mother, father, login, county_doctor
):
    stranger = GuardianFactory(mobile="13600004444")
    response = login(county_doctor).post(
        f"/p/staff/consultations/{signed_report.consultation_id}/share/",
        {"guardian": [father.pk, stranger.pk]},
    )
    assert response.status_code == 302
    assert list(PortalShare.objects.values_list("guardian_id", flat=True)) == [father.pk]


def test_outsider_cannot_share(signed_report, mother, login, outsider):
    response = login(outsider).post(
        f"/p/staff/consultations/{signed_report.consultation_id}/share/", {"guardian": [mother.pk]}
    )
    assert response.status_code == 404
    assert not PortalShare.objects.exists()
    with pytest.raises(PortalError):
        portal_share_create(report=signed_report, guardians=[mother], user=outsider, context=SYSTEM)


def test_a_guardian_reading_a_version_that_gets_amended_is_offered_the_new_one(
    client, share_link, opened, signed_report, mother, english
):
    from tests.factories import SignedReportFactory

    opened()
    signed_report.status = Report.Status.SUPERSEDED
    signed_report.save()
    v2 = SignedReportFactory(
        consultation=signed_report.consultation,
        version=2,
        author=signed_report.author,
        impression="回结肠型肠套叠，已复位。",
        amendment_reason="补充复位结果",
    )
    page = client.get("/p/report/").content.decode()
    assert "There is a newer version" in page and "已复位" not in page
    response = post(client, {}, path="/p/report/")
    assert response["Location"] == "/p/?newer=1"
    post(client, {"action": "code", "code": sms_code(mother.mobile)})
    assert "已复位" in client.get("/p/report/").content.decode()
    assert PortalShare.objects.get(report=v2).previous == share_link[0]


def test_the_case_page_panel_costs_the_same_queries_for_one_or_many_links(
    signed_report, mother, father, login, county_doctor
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    doctor = login(county_doctor)
    url = f"/consultations/{signed_report.consultation_id}/"
    portal_share_create(
        report=signed_report, guardians=[mother], user=county_doctor, context=SYSTEM
    )
    doctor.get(url)
    with CaptureQueriesContext(connection) as one:
        doctor.get(url)
    for _ in range(4):
        portal_share_create(
            report=signed_report, guardians=[mother, father], user=county_doctor, context=SYSTEM
        )
    with CaptureQueriesContext(connection) as many:
        page = doctor.get(url).content.decode()
    assert page.count("/revoke/") == 9
    assert len(many) == len(one)


def test_sharing_with_nobody_chosen_says_so(signed_report, mother, login, county_doctor, english):
    response = login(county_doctor).post(
        f"/p/staff/consultations/{signed_report.consultation_id}/share/", {}, follow=True
    )
    assert "Choose at least one guardian." in response.content.decode()
    assert not PortalShare.objects.exists()
