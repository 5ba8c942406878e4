"""The next step on the guardian's page: a scheduled green-channel appointment, if any."""

import datetime as dt

import pytest
from django.apps import apps
from django.utils.timezone import now

from tests.factories import DepartmentFactory


@pytest.fixture
def referral_model():
    try:
        return apps.get_model("referrals", "Referral")
    except LookupError:
        pytest.skip("the referrals app has no Referral model on this branch")


def test_scheduled_referral_shows_when_where_and_what_to_bring(
    client, share_link, opened, signed_report, expert_center, county_doctor, referral_model
):
    consultation = signed_report.consultation
    department = DepartmentFactory(
        hospital=expert_center, name_zh="小儿外科", phone="0571-87000000"
    )
    referral_model.objects.create(
        patient=consultation.patient,
        consultation=consultation,
        report=signed_report,
        source_hospital=consultation.hospital,
        source_doctor=county_doctor,
        requested_by=county_doctor,
        receiving_hospital=expert_center,
        receiving_department=department,
        urgency="urgent",
        reason="肠套叠复位",
        status="scheduled",
        scheduled_for=now() + dt.timedelta(days=1),
        report_to="门诊楼三楼绿色通道窗口",
        what_to_bring="医保卡、本报告",
        requested_at=now(),
    )
    opened()
    page = client.get("/p/report/").content.decode()
    assert "门诊楼三楼绿色通道窗口" in page
    assert "医保卡、本报告" in page
    assert "0571-87000000" in page


def test_no_appointment_shows_the_recommendation(client, share_link, opened):
    opened()
    page = client.get("/p/report/").content.decode()
    assert "建议尽快到儿童医院行空气灌肠复位" in page
    assert 'class="appt"' not in page
