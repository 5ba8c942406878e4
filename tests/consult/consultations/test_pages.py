"""Consultation pages: each role's happy path, outsiders refused with a denied audit row,
bad input with its message, constant query counts on the lists."""

import pytest
from django.urls import reverse

from consult.models import Consultation, Status
from core.audit import SYSTEM
from core.models import AuditEvent
from tests.factories import ConsultationFactory, StudyFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def _denied(object_id):
    return AuditEvent.objects.filter(
        action="denied", object_type="consultation", object_id=str(object_id)
    ).exists()


def test_consultation_form_carries_the_childs_uploader(login, county_doctor, child):
    page = login(county_doctor).get(reverse("consultation-new"), {"patient": child.pk})
    text = page.content.decode()
    assert 'id="uploader"' in text
    assert reverse("viewer:upload-files", args=[child.pk]) in text
    assert reverse("consultation-patient-studies", args=[child.pk]) in text


def test_the_childs_studies_are_read_again_after_an_upload_and_audited(login, county_doctor, child):
    study = StudyFactory(patient=child, description="CT ABDOMEN", modalities="CT")
    StudyFactory()  # another child's
    response = login(county_doctor).get(reverse("consultation-patient-studies", args=[child.pk]))
    [row] = response.json()["studies"]
    assert (row["id"], row["uid"]) == (study.pk, study.study_instance_uid)
    assert "CT ABDOMEN" in row["label"]
    assert AuditEvent.objects.filter(
        action="view", object_type="patient", object_id=str(child.pk)
    ).exists()


def test_an_outsider_cannot_read_the_childs_studies(login, outsider, child):
    response = login(outsider).get(reverse("consultation-patient-studies", args=[child.pk]))
    assert response.status_code == 404
    assert AuditEvent.objects.filter(
        action="denied", object_type="patient", object_id=str(child.pk)
    ).exists()


def test_answer_with_new_images_adds_them_to_the_case(login, in_review, county_doctor):
    from consult.consultations.services import consultation_request_info

    consultation_request_info(
        context=SYSTEM, consultation=in_review, actor=in_review.assigned_to, question="CT?"
    )
    new = StudyFactory(patient=in_review.patient, description="复查CT", modalities="CT")
    login(county_doctor).post(
        reverse("consultation-message", args=[in_review.pk]),
        {"body": "已上传复查CT", "studies": [str(new.pk)]},
    )
    in_review.refresh_from_db()
    assert in_review.status == Status.IN_REVIEW
    assert new in in_review.studies.all()
    answer = in_review.messages.get(kind="answer")
    assert answer.body.startswith("已上传复查CT") and "复查CT" in answer.body.splitlines()[-1]


def test_images_of_another_child_are_refused_with_the_answer(login, in_review, county_doctor):
    other = StudyFactory()
    response = login(county_doctor).post(
        reverse("consultation-message", args=[in_review.pk]),
        {"body": "CT", "studies": [str(other.pk)]},
        follow=True,
    )
    assert "belongs to another child" in response.content.decode()
    assert other not in in_review.studies.all() and not in_review.messages.exists()


def test_only_the_referring_side_adds_images(login, in_review):
    extra = StudyFactory(patient=in_review.patient)
    response = login(in_review.assigned_to).post(
        reverse("consultation-message", args=[in_review.pk]),
        {"body": "看这个", "studies": [str(extra.pk)]},
        follow=True,
    )
    assert "Only the referring hospital can add images" in response.content.decode()
    assert extra not in in_review.studies.all()


def test_doctor_creates_a_draft_then_submits_it(login, county_doctor, child, on_call_specialist):
    study = StudyFactory(patient=child)
    client = login(county_doctor)
    page = client.get(reverse("consultation-new"), {"patient": child.pk})
    assert page.status_code == 200 and study.description in page.content.decode()
    response = client.post(
        reverse("consultation-new"),
        {
            "patient": child.pk,
            "subspecialty": "abdominal",
            "priority": "routine",
            "clinical_history": "腹痛三天",
            "question": "肠套叠？",
            "studies": [study.pk],
        },
    )
    case = Consultation.objects.get()
    assert response.url == reverse("consultation-edit", args=[case.pk])
    assert case.status == Status.DRAFT and list(case.studies.all()) == [study]
    response = client.post(
        reverse("consultation-edit", args=[case.pk]),
        {
            "subspecialty": "abdominal",
            "priority": "routine",
            "clinical_history": "腹痛三天",
            "question": "肠套叠？",
            "studies": [study.pk],
            "submit": "1",
        },
    )
    case.refresh_from_db()
    assert case.status == Status.ASSIGNED and case.assigned_to == on_call_specialist


def test_submitting_an_incomplete_draft_says_what_is_missing(login, draft):
    client = login(draft.requested_by)
    response = client.post(
        reverse("consultation-edit", args=[draft.pk]),
        {
            "subspecialty": "abdominal",
            "priority": "urgent",
            "urgent_reason": "",
            "clinical_history": "x",
            "question": "",
            "submit": "1",
        },
    )
    text = response.content.decode()
    assert response.status_code == 200
    assert "the question for the specialist" in text and "urgent" in text
    draft.refresh_from_db()
    assert draft.status == Status.DRAFT


def test_consultation_page_shows_the_case_and_audits_the_view(login, in_review):
    client = login(in_review.assigned_to)
    response = client.get(reverse("consultation-detail", args=[in_review.pk]))
    text = response.content.decode()
    study = in_review.studies.get()
    assert in_review.question in text
    assert f"/viewer/studies/{study.study_instance_uid}/" in text
    assert 'name="findings"' in text, "the report editor sits beside the case"
    assert AuditEvent.objects.filter(
        action="view",
        object_type="consultation",
        object_id=str(in_review.pk),
        user=in_review.assigned_to,
    ).exists()


def test_priors_of_the_child_are_offered(login, in_review):
    prior = StudyFactory(patient=in_review.patient, description="胸片 2025")
    client = login(in_review.assigned_to)
    text = client.get(reverse("consultation-detail", args=[in_review.pk])).content.decode()
    assert "胸片 2025" in text and prior.study_instance_uid in text


@pytest.mark.parametrize("who", ["outsider", "second_specialist"])
def test_outsiders_get_404_and_a_denied_row(login, request, assigned, who):
    client = login(request.getfixturevalue(who))
    response = client.get(reverse("consultation-detail", args=[assigned.pk]))
    assert response.status_code == 404
    assert _denied(assigned.pk)


def test_outsider_cannot_act_either(login, assigned, outsider):
    client = login(outsider)
    response = client.post(reverse("consultation-cancel", args=[assigned.pk]), {"reason": "x"})
    assert response.status_code == 404
    assigned.refresh_from_db()
    assert assigned.status == Status.ASSIGNED and _denied(assigned.pk)


def test_specialist_sees_cases_assigned_before_and_the_queue(login, specialist, coordinator):
    queued = ConsultationFactory(status=Status.SUBMITTED, subspecialty="abdominal")
    other_queue = ConsultationFactory(status=Status.SUBMITTED, subspecialty="cardiac")
    client = login(specialist)
    assert client.get(reverse("consultation-detail", args=[queued.pk])).status_code == 200
    assert client.get(reverse("consultation-detail", args=[other_queue.pk])).status_code == 404


def test_worklist_accept_moves_to_in_review(login, assigned):
    client = login(assigned.assigned_to)
    text = client.get(reverse("worklist")).content.decode()
    assert f"#{assigned.pk}" in text
    client.post(reverse("consultation-accept", args=[assigned.pk]))
    assigned.refresh_from_db()
    assert assigned.status == Status.IN_REVIEW


def test_accepting_someone_elses_case_is_refused_with_a_message(
    login, assigned, second_specialist, coordinator
):
    from consult.consultations.services import consultation_reassign

    consultation_reassign(
        context=SYSTEM,
        consultation=assigned,
        actor=coordinator,
        specialist=second_specialist,
        reason="休假",
    )
    client = login(assigned.assigned_to.__class__.objects.get(username="specialist"))
    response = client.post(reverse("consultation-accept", args=[assigned.pk]), follow=True)
    assert "assigned to another specialist" in response.content.decode()


def test_worklist_query_count_is_constant(login, specialist, django_assert_max_num_queries):
    for _ in range(3):
        ConsultationFactory(status=Status.ASSIGNED, assigned_to=specialist)
    client = login(specialist)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("worklist"))
    for _ in range(10):
        ConsultationFactory(status=Status.ASSIGNED, assigned_to=specialist)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("worklist"))
    assert response.content.decode().count("data-case=") == 13


def test_dashboard_query_count_is_constant(
    login, coordinator, specialist, django_assert_max_num_queries
):
    ConsultationFactory(status=Status.ASSIGNED, assigned_to=specialist, sla_stage=2)
    client = login(coordinator)
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("coordinator-dashboard"))
    for _ in range(10):
        ConsultationFactory(status=Status.ASSIGNED, assigned_to=specialist, sla_stage=2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("coordinator-dashboard"))
    assert response.status_code == 200


def test_referring_list_by_state_highlights_answers(
    login, county_doctor, child, django_assert_max_num_queries
):
    ConsultationFactory(patient=child, hospital=child.home_hospital, status=Status.REPORTED)
    client = login(county_doctor)
    with django_assert_max_num_queries(12) as few:
        text = client.get(reverse("consultation-list")).content.decode()
    assert "Answer ready" in text or "答复已到" in text
    for _ in range(8):
        ConsultationFactory(patient=child, hospital=child.home_hospital, status=Status.ASSIGNED)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("consultation-list"))


def test_coordinator_reassign_needs_a_reason(login, assigned, coordinator, second_specialist):
    client = login(coordinator)
    url = reverse("consultation-reassign", args=[assigned.pk])
    response = client.post(url, {"specialist": second_specialist.pk, "reason": ""}, follow=True)
    assert "reason" in response.content.decode().lower() or "原因" in response.content.decode()
    client.post(url, {"specialist": second_specialist.pk, "reason": "负荷均衡"})
    assigned.refresh_from_db()
    assert assigned.assigned_to == second_specialist
    assert assigned.events.filter(kind="assigned", reason="负荷均衡").exists()


def test_thread_message_with_attachment_and_read_receipt(login, in_review, county_doctor):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = login(county_doctor)
    upload = SimpleUploadedFile("化验单.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    client.post(
        reverse("consultation-message", args=[in_review.pk]),
        {"body": "附化验单", "attachments": [upload]},
    )
    message = in_review.messages.get()
    assert message.attachments.get().name == "化验单.pdf"
    specialist_client = login(in_review.assigned_to)
    specialist_client.get(reverse("consultation-detail", args=[in_review.pk]))
    assert message.receipts.filter(user=in_review.assigned_to).exists()
    doctor_view = login(county_doctor).get(reverse("consultation-thread", args=[in_review.pk]))
    assert str(in_review.assigned_to) in doctor_view.content.decode()


def test_empty_message_is_refused(login, in_review, county_doctor):
    response = login(county_doctor).post(
        reverse("consultation-message", args=[in_review.pk]), {"body": " "}, follow=True
    )
    assert "Write a message" in response.content.decode() or "请填写" in response.content.decode()


def test_admin_edits_the_sla_policy(login, alliance_admin, assigned):
    client = login(alliance_admin)
    assert client.get(reverse("sla-policy")).status_code == 200
    client.post(
        reverse("sla-policy"),
        {
            "priority": "routine",
            "routine-target_seconds": 7200,
            "routine-breach_seconds": 3600,
            "routine-remind_percent": 50,
            "routine-repeat_seconds": 3600,
        },
    )
    from consult.models import SlaPolicy

    assert SlaPolicy.objects.get(priority="routine").target_seconds == 4 * 3600, "refused"
    client.post(
        reverse("sla-policy"),
        {
            "priority": "routine",
            "routine-target_seconds": 7200,
            "routine-breach_seconds": 10800,
            "routine-remind_percent": 50,
            "routine-repeat_seconds": 3600,
        },
    )
    assert SlaPolicy.objects.get(priority="routine").target_seconds == 7200


def test_only_the_admin_edits_the_policy(login, coordinator):
    assert login(coordinator).get(reverse("sla-policy")).status_code == 404


def test_bell_counts_unread(login, assigned):
    client = login(assigned.assigned_to)
    assert client.get(reverse("notification-count")).json() == {"unread": 1}
    client.post(reverse("notification-list"))
    assert client.get(reverse("notification-count")).json() == {"unread": 0}


def test_home_pages_carry_the_live_consultation_block(login, assigned, coordinator, county_doctor):
    for user, expected in (
        (assigned.assigned_to, "worklist-table"),
        (coordinator, "dash-counts"),
        (county_doctor, "by-state"),
    ):
        text = login(user).get(reverse("home")).content.decode()
        assert 'id="home-live"' in text and expected in text, user.role


def test_pages_speak_chinese_by_default(client, assigned, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    client.force_login(assigned.assigned_to)
    text = client.get(reverse("worklist"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "工作列表" in text and "剩余" in text and "接诊" in text


def test_worklist_is_ordered_by_time_left_and_paused_time_is_frozen(login, specialist):
    import datetime as dt

    from django.utils import timezone

    ago = lambda minutes: timezone.now() - dt.timedelta(minutes=minutes)  # noqa: E731
    fresh = ConsultationFactory(
        status=Status.ASSIGNED, assigned_to=specialist, submitted_at=ago(30)
    )
    late = ConsultationFactory(
        status=Status.ASSIGNED, assigned_to=specialist, submitted_at=ago(180)
    )
    paused = ConsultationFactory(
        status=Status.INFO_REQUESTED,
        assigned_to=specialist,
        submitted_at=ago(300),
        sla_paused_since=ago(290),
    )
    text = login(specialist).get(reverse("worklist")).content.decode()
    order = sorted((text.index(f'data-case="{c.pk}"'), c) for c in (fresh, late, paused))
    # late: 1 h left; fresh: 3 h 30 left; paused after 10 min of work: 3 h 50 left.
    assert [c for _i, c in order] == [late, fresh, paused]


def test_dashboard_lists_at_risk_and_breached_cases(login, coordinator, specialist):
    from django.utils import timezone

    risky = ConsultationFactory(status=Status.ASSIGNED, assigned_to=specialist, sla_stage=2)
    late = ConsultationFactory(
        status=Status.IN_REVIEW, assigned_to=specialist, sla_stage=3, breached_at=timezone.now()
    )
    calm = ConsultationFactory(status=Status.ASSIGNED, assigned_to=specialist)
    text = login(coordinator).get(reverse("coordinator-dashboard")).content.decode()
    at_risk, breached = text.split("Breached</h2>")[0], text.split("Breached</h2>")[1]
    assert f"#{risky.pk}<" in at_risk and f"#{late.pk}<" not in at_risk
    assert f"#{late.pk}<" in breached.split("Load per specialist")[0]
    assert f"#{calm.pk}<" not in text


def test_an_action_writes_its_audit_row_in_the_service_with_the_request_address(
    login, assigned, on_call_specialist
):
    before = AuditEvent.objects.filter(action="update").count()
    response = login(on_call_specialist).post(
        reverse("consultation-accept", args=[assigned.pk]), REMOTE_ADDR="10.1.2.3"
    )
    assert response.status_code == 302
    [row] = AuditEvent.objects.filter(action="update").order_by("-pk")[:1]
    assert AuditEvent.objects.filter(action="update").count() == before + 1
    assert (row.object_type, row.object_id, row.patient_id) == (
        "consultation",
        str(assigned.pk),
        assigned.patient_id,
    )
    assert (row.user, row.outcome, row.ip) == (on_call_specialist, "success", "10.1.2.3")


def test_a_policy_change_is_audited_by_the_service(login, alliance_admin):
    form = {
        "priority": "urgent",
        "urgent-target_seconds": 1800,
        "urgent-breach_seconds": 3600,
        "urgent-remind_percent": 50,
        "urgent-repeat_seconds": 1800,
    }
    response = login(alliance_admin).post(reverse("sla-policy"), form)
    assert response.status_code == 302
    assert AuditEvent.objects.filter(
        action="update", object_type="slapolicy", object_id="urgent", user=alliance_admin
    ).exists()
