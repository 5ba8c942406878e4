"""Demo consultations in several states, on top of the demo alliance (consult/demo.py).

`seed_consultations()` is idempotent: each case is recognised by its child and question.
Everything goes through the real services, so timelines, SLA clocks and notices are real.
"""

from __future__ import annotations

from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction

from consult.consultations.reports import report_save, report_sign
from consult.consultations.services import (
    attachment_add,
    consultation_accept,
    consultation_create,
    consultation_request_info,
    consultation_submit,
    consultation_transition,
)
from consult.models import Consultation, Patient, Priority, Role, Status, User
from core.audit import SYSTEM

DEMO_PASSWORD = "PedsLink-demo-2026"  # noqa: S105 - the demo accounts' password (consult/demo.py)

CASES: list[dict[str, Any]] = [
    {
        "doctor": "county_doc",
        "subspecialty": "abdominal",
        "until": Status.DRAFT,
        "history": "2岁，间断腹痛1周。",
        "question": "腹部超声提示肠系膜淋巴结肿大，是否需要随访？",
    },
    {
        "doctor": "town_doc",
        "subspecialty": "abdominal",
        "until": Status.ASSIGNED,
        "history": "10月龄，阵发性哭闹6小时，呕吐2次，果酱样便1次。",
        "question": "超声见“同心圆”征，是否肠套叠？能否空气灌肠复位？",
    },
    {
        "doctor": "county_doc",
        "subspecialty": "msk",
        "until": Status.INFO_REQUESTED,
        "history": "3月龄女婴，臀位产，双侧臀纹不对称。",
        "question": "髋关节超声：是否发育性髋关节发育不良？",
        "info": "请补充左右髋冠状切面图像，并注明检查时的体位。",
    },
    {
        "doctor": "town_doc",
        "subspecialty": "abdominal",
        "until": Status.REPORTED,
        "history": "4岁，反复肠套叠3次，均已复位。",
        "question": "是否存在病理性诱发点？",
    },
    {
        "doctor": "county_doc",
        "subspecialty": "cardiac",
        "until": Status.IN_REVIEW,
        "priority": Priority.URGENT,
        "urgent_reason": "新生儿持续发绀，血氧饱和度75%。",
        "history": "出生3天，发绀，心脏杂音。",
        "question": "心脏超声：是否复杂先心病？需否急诊转诊？",
    },
]


def _say(stdout: Any, text: str) -> None:
    if stdout is not None:
        stdout.write(text)


def _assignee(case: Consultation) -> User:
    """The routed specialist, or (nobody on call right now) a specialist of the demo."""
    case.refresh_from_db()
    if case.assigned_to is None:
        specialist = User.objects.filter(
            role=Role.SPECIALIST, subspecialties__subspecialty=case.subspecialty
        ).first()
        specialist = specialist or User.objects.filter(role=Role.SPECIALIST).first()
        consultation_transition(
            consultation=case, to=Status.ASSIGNED, actor=None, assignee=specialist, reason="demo"
        )
    return case.assigned_to


@transaction.atomic
def _seed_one(spec: dict[str, Any], child: Patient, doctor: User) -> Consultation:
    case = consultation_create(
        context=SYSTEM,
        actor=doctor,
        patient=child,
        subspecialty=spec["subspecialty"],
        priority=spec.get("priority", Priority.ROUTINE),
        urgent_reason=spec.get("urgent_reason", ""),
        clinical_history=spec["history"],
        question=spec["question"],
        study_ids=child.studies.values_list("pk", flat=True),
    )
    letter = ContentFile("转诊单（演示）\n".encode(), name="转诊单.txt")
    attachment_add(consultation=case, actor=doctor, upload=letter)
    if spec["until"] == Status.DRAFT:
        return case
    consultation_submit(context=SYSTEM, consultation=case, actor=doctor)
    specialist = _assignee(case)
    if spec["until"] == Status.ASSIGNED:
        return case
    consultation_accept(context=SYSTEM, consultation=case, actor=specialist)
    if spec["until"] == Status.INFO_REQUESTED:
        consultation_request_info(
            context=SYSTEM, consultation=case, actor=specialist, question=spec["info"]
        )
    elif spec["until"] == Status.REPORTED:
        report_save(
            context=SYSTEM,
            consultation=case,
            actor=specialist,
            edit_version=0,
            template="gi",
            data={
                "intussusception": "yes",
                "location": "回结肠型",
                "length_cm": "3.8",
                "lead_point": "回盲部息肉约1.5 cm",
                "free_fluid": "no",
                "perfusion": "preserved",
            },
            findings="右中腹见“同心圆”征，套头内见1.5 cm低回声息肉，血流信号存在。",
            impression="回结肠型肠套叠，回盲部息肉为病理性诱发点。",
            recommendation="建议转诊省儿童医院小儿外科行息肉切除。",
            transfer_recommended=True,
            transfer_urgency="urgent",
        )
        report_sign(context=SYSTEM, consultation=case, actor=specialist, password=DEMO_PASSWORD)
    return case


def seed_consultations(*, stdout: Any = None) -> list[Consultation]:
    """Create the demo consultations that do not exist yet; returns all of them."""
    cases = []
    for n, spec in enumerate(CASES):
        doctor = User.objects.filter(username=spec["doctor"]).first()
        if doctor is None:
            _say(stdout, "demo alliance missing; run seed_demo first\n")
            return cases
        children = list(Patient.objects.filter(home_hospital=doctor.hospital).order_by("pk"))
        child = children[n % len(children)]
        existing = Consultation.objects.filter(patient=child, question=spec["question"]).first()
        if existing is None:
            existing = _seed_one(spec, child, doctor)
            _say(stdout, f"consultation #{existing.pk}: {existing.status}\n")
        cases.append(existing)
    return cases
