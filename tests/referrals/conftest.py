"""Referral fixtures on top of the named cast: the expert center's pediatric surgery (accepts
referrals, has a head and a surgeon), and a reported consultation whose signed report
recommends a transfer."""

import pytest
from django.utils import timezone

from consult.models import Report, Role, Status, TransferUrgency
from core.audit import SYSTEM
from tests.factories import (
    ConsultationFactory,
    DepartmentFactory,
    GuardianFactory,
    UserFactory,
    WeightFactory,
)


@pytest.fixture
def surgery(expert_center):
    return DepartmentFactory(
        hospital=expert_center,
        name_zh="小儿普外科",
        name_en="Pediatric General Surgery",
        accepts_referrals=True,
        phone="0571-87000111",
    )


@pytest.fixture
def surgery_head(surgery, expert_center):
    head = UserFactory(
        username="surgery_head",
        full_name="郑主任",
        role=Role.SPECIALIST,
        hospital=expert_center,
        department=surgery,
        mobile="13900000001",
    )
    surgery.head = head
    surgery.save()
    return head


@pytest.fixture
def surgeon(surgery, surgery_head, expert_center):
    """A doctor of the receiving department: works its referral worklist."""
    return UserFactory(
        username="surgeon",
        full_name="钱医生",
        role=Role.REFERRING_DOCTOR,
        hospital=expert_center,
        department=surgery,
    )


@pytest.fixture
def cardiology(expert_center):
    return DepartmentFactory(
        hospital=expert_center,
        name_zh="心脏外科",
        name_en="Cardiac Surgery",
        accepts_referrals=True,
    )


@pytest.fixture
def reported(county_doctor, child, specialist):
    """A reported consultation of the county child; the signed report recommends a transfer."""
    consultation = ConsultationFactory(
        patient=child,
        hospital=child.home_hospital,
        requested_by=county_doctor,
        status=Status.REPORTED,
        assigned_to=specialist,
        reported_at=timezone.now(),
    )
    Report.objects.create(
        consultation=consultation,
        template="general",
        status=Report.Status.SIGNED,
        findings="右下腹见同心圆征，套头内见1.5 cm息肉样结构。",
        impression="回结肠型肠套叠，息肉为病理性诱发点。",
        recommendation="建议转上级医院小儿外科手术治疗。",
        transfer_recommended=True,
        transfer_urgency=TransferUrgency.URGENT,
        author=specialist,
        signed_at=timezone.now(),
    )
    GuardianFactory(patient=child, name="李妈妈", mobile="13812345678")
    WeightFactory(patient=child, weight_kg="12.50")
    child.allergy_status = "listed"
    child.allergies = "青霉素过敏"
    child.save()
    return consultation


@pytest.fixture
def requested(reported, county_doctor, surgery, surgery_head, surgeon, coordinator):
    from referrals.services import referral_create

    return referral_create(
        actor=county_doctor,
        context=SYSTEM,
        consultation=reported,
        department=surgery,
        urgency=TransferUrgency.URGENT,
        reason="肠套叠反复发作伴息肉，需手术。",
    )


@pytest.fixture
def accepted(requested, surgeon):
    from referrals.services import referral_accept

    return referral_accept(referral=requested, actor=surgeon, context=SYSTEM)


@pytest.fixture
def scheduled(accepted, surgeon):
    import datetime as dt

    from referrals.models import Transport
    from referrals.services import referral_schedule

    return referral_schedule(
        referral=accepted,
        actor=surgeon,
        context=SYSTEM,
        scheduled_for=timezone.now() + dt.timedelta(days=2),
        slot="12床",
        report_to="住院部3楼小儿外科护士站",
        transport=Transport.OWN,
        what_to_bring="医保卡、既往检查资料",
    )


@pytest.fixture
def english(settings):
    """Messages in English, for tests that match refusal texts (the default is Chinese)."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield
