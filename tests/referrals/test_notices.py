"""What leaves the system: the family's text (file SMS backend, through the outbox), the
transfer sheet PDF in Chinese (text extracted back with pypdf), websocket pushes, and the
statistics helpers."""

import datetime as dt
import io

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from pypdf import PdfReader

from core.audit import SYSTEM
from core.models import Notification
from core.notify import notifications_resend_due
from core.sms import read_sms_file_outbox
from referrals.selectors import (
    referral_declines_by_reason,
    referral_time_to_acceptance,
    referral_time_to_arrival,
)
from referrals.services import (
    referral_accept,
    referral_arrive,
    referral_create,
    referral_decline,
    referral_redirect,
    referral_schedule,
)
from referrals.sheet_pdf import transfer_sheet_pdf
from tests.consult.test_websockets import _socket, run

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def sms_dir(settings, tmp_path):
    settings.SMS_BACKEND = "core.sms.FileSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return tmp_path / "sms"


def test_the_family_gets_one_text_with_date_place_and_what_to_bring(scheduled, sms_dir):
    row = Notification.objects.get(kind="referral_family")
    assert row.address == "13812345678" and row.recipient is None
    notifications_resend_due()
    texts = [m for m in read_sms_file_outbox(sms_dir) if m["to"] == "13812345678"]
    assert len(texts) == 1
    body = texts[0]["body"]
    when = timezone.localtime(scheduled.scheduled_for).strftime("%Y-%m-%d %H:%M")
    for expected in (
        "李小明",
        "省儿童医院",
        "小儿普外科",
        when,
        "住院部3楼小儿外科护士站",
        "医保卡、既往检查资料",
        "0571-87000111",
    ):
        assert expected in body, expected
    assert body.startswith("PedsLink：")  # Chinese, the alliance's language
    row.refresh_from_db()
    assert row.state == "sent"


def test_a_new_date_sends_a_new_text(scheduled, surgeon, sms_dir):
    referral_schedule(
        referral=scheduled,
        actor=surgeon,
        context=SYSTEM,
        scheduled_for=timezone.now() + dt.timedelta(days=4),
        slot="",
        report_to="门诊楼2楼",
        transport="own",
    )
    notifications_resend_due()
    bodies = [m["body"] for m in read_sms_file_outbox(sms_dir) if m["to"] == "13812345678"]
    assert len(bodies) == 2 and "门诊楼2楼" in bodies[1]


def test_the_transfer_sheet_carries_what_the_crew_needs_in_chinese(scheduled, county_doctor):
    county_doctor.mobile = "13700000002"
    county_doctor.save()
    scheduled.refresh_from_db()
    pdf = transfer_sheet_pdf(scheduled)
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    compact = text.replace(" ", "").replace("\n", "")
    for expected in (
        "转诊单",
        "李小明",
        "12.50kg",
        "青霉素过敏",
        "是否为肠套叠？有无病理性诱发点？",  # the diagnosis question
        "回结肠型肠套叠，息肉为病理性诱发点。",  # report summary
        "建议转上级医院小儿外科手术治疗。",
        "住院部3楼小儿外科护士站",
        "12床",
        "自行前往",
        "永嘉县人民医院",
        "张医生",
        "13700000002",
        "省儿童医院",
        "小儿普外科",
        "0571-87000111",
        "郑主任",
    ):
        assert expected in compact, expected


def _sheet_rows(referral) -> dict[str, str]:
    """The sheet's text read back from the PDF as {label: first line of its value} (pypdf
    gives a row's label cell, then its value cell, each on its own line)."""
    text = "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(transfer_sheet_pdf(referral))).pages
    )
    lines = text.replace(" ", "").splitlines()
    return dict(zip(lines, lines[1:], strict=False))


def test_sheet_says_not_recorded_when_weight_and_allergies_were_left_blank(
    child, coordinator, surgery
):
    # This test used to require "无已知过敏" ("no known allergies") for a blank field: a
    # blank field is "未记录" (not recorded), never a negative finding.
    referral = referral_create(
        actor=coordinator,
        context=SYSTEM,
        patient=child,
        department=surgery,
        urgency="elective",
        reason="择期",
    )
    rows = _sheet_rows(referral)
    assert rows["过敏史"] == "未记录"
    assert rows["体重"] == "未记录"
    assert rows["诊断问题"] == "未记录"
    assert rows["报告摘要"] == "未附会诊报告"
    assert "无已知过敏" not in "".join(rows.values())


def test_sheet_says_no_known_allergies_only_when_a_doctor_said_so(child, coordinator, surgery):
    child.allergy_status = "none_known"
    child.save()
    referral = referral_create(
        actor=coordinator,
        context=SYSTEM,
        patient=child,
        department=surgery,
        urgency="elective",
        reason="择期",
    )
    assert _sheet_rows(referral)["过敏史"] == "无已知过敏"


def test_sheet_lists_the_allergies(scheduled):
    assert _sheet_rows(scheduled)["过敏史"] == "青霉素过敏"


def test_statistics_time_to_acceptance_and_arrival_and_declines_by_reason(
    reported, county_doctor, surgery, surgeon, coordinator, cardiology, expert_center, time_machine
):
    from tests.factories import UserFactory

    cardiac = UserFactory(hospital=expert_center, department=cardiology)
    start = timezone.now()
    time_machine.move_to(start, tick=False)
    referral = referral_create(
        actor=county_doctor,
        context=SYSTEM,
        consultation=reported,
        department=surgery,
        urgency="urgent",
        reason="x",
    )
    time_machine.move_to(start + dt.timedelta(hours=1), tick=False)
    referral_decline(referral=referral, actor=surgeon, context=SYSTEM, reason_code="no_bed")
    referral_redirect(referral=referral, actor=coordinator, context=SYSTEM, department=cardiology)
    time_machine.move_to(start + dt.timedelta(hours=3), tick=False)
    referral_accept(referral=referral, actor=cardiac, context=SYSTEM)
    referral_schedule(
        referral=referral,
        actor=cardiac,
        context=SYSTEM,
        scheduled_for=start + dt.timedelta(hours=5),
        slot="",
        report_to="急诊",
        transport="center_team",
    )
    time_machine.move_to(start + dt.timedelta(hours=6), tick=False)
    referral_arrive(referral=referral, actor=cardiac, context=SYSTEM)
    from referrals.models import Referral

    everything = Referral.objects.all()
    assert referral_time_to_acceptance(everything) == {"count": 1, "median_hours": 3.0}
    assert referral_time_to_arrival(everything) == {"count": 1, "median_hours": 6.0}
    assert referral_declines_by_reason(everything) == {"no_bed": 1}


@pytest.mark.django_db(transaction=True)
def test_the_referring_doctors_page_hears_the_schedule(accepted, county_doctor, surgeon):
    async def scenario():
        socket = await sync_to_async(_socket)(f"/ws/referrals/{accepted.pk}/", county_doctor)
        connected, _ = await socket.connect()
        assert connected
        await sync_to_async(referral_schedule)(
            referral=accepted,
            actor=surgeon,
            context=SYSTEM,
            scheduled_for=timezone.now() + dt.timedelta(days=1),
            slot="",
            report_to="门诊",
            transport="own",
        )
        event = await socket.receive_json_from(timeout=5)
        assert event == {"kind": "referral", "id": accepted.pk, "status": "scheduled"}
        await socket.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_outsider_cannot_watch_a_referral(requested, outsider):
    async def scenario():
        socket = await sync_to_async(_socket)(f"/ws/referrals/{requested.pk}/", outsider)
        connected, code = await socket.connect()
        assert not connected and code == 4404

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_the_department_worklist_hears_a_new_referral(reported, county_doctor, surgery, surgeon):
    async def scenario():
        socket = await sync_to_async(_socket)("/ws/live/", surgeon)
        connected, _ = await socket.connect()
        assert connected
        referral = await sync_to_async(referral_create)(
            actor=county_doctor,
            context=SYSTEM,
            consultation=reported,
            department=surgery,
            urgency="urgent",
            reason="x",
        )
        events = [await socket.receive_json_from(timeout=5) for _ in range(2)]
        assert {"kind": "referral", "id": referral.pk, "status": "requested"} in events
        await socket.disconnect()

    run(scenario)
