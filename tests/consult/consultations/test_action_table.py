"""The consultation's ACTIONS table is the law: every (state, action) it does not give is refused
by the service, answered 409 with the reason by the API and the page, and changes nothing."""

import html

import pytest
from django.urls import reverse
from django.utils import timezone

from consult.consultations.reports import report_amend, report_save, report_sign
from consult.consultations.services import (
    consultation_accept,
    consultation_cancel,
    consultation_close,
    consultation_reassign,
    consultation_request_info,
    consultation_submit,
    consultation_update,
    message_post,
)
from consult.models import ACTIONS, Consultation, ConsultationAssignment, Report, Status
from consult.selectors import consultations_visible_to
from core.audit import SYSTEM, Action
from core.models import AuditEvent, Notification
from core.transitions import ActorNotAllowed, TransitionNotAllowed, refused_pairs
from tests.factories import PASSWORD, ConsultationFactory, StudyFactory
from tests.side_effects import side_effects

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

PAIRS = refused_pairs(ACTIONS, Status.values)
REPORT = {"template": "general", "findings": "未见异常。", "impression": "正常。"}

# Who takes each action when it is allowed (so that only the state can be the reason).
ACTOR = {
    "edit": "county_doctor",
    "submit": "county_doctor",
    "cancel": "county_doctor",
    "close": "county_doctor",
    "message": "county_doctor",
    "add_images": "county_doctor",
    "reassign": "coordinator",
    "requeue": "coordinator",
}


class Cast:
    def __init__(self, county_doctor, specialist, second_specialist, coordinator):  # noqa: ANN001
        self.county_doctor = county_doctor
        self.specialist = specialist
        self.second_specialist = second_specialist
        self.coordinator = coordinator

    def for_action(self, action):  # noqa: ANN001, ANN201
        return getattr(self, ACTOR.get(action, "specialist"))


@pytest.fixture
def cast(county_doctor, specialist, second_specialist, coordinator):
    return Cast(county_doctor, specialist, second_specialist, coordinator)


def _case(state, action, cast, child):  # noqa: ANN001, ANN202
    """A case in `state` (with the specialist on it once it left the queue) and what the
    action needs to be tried: a report draft to sign, a signed report to amend …"""
    with_specialist = state not in (Status.DRAFT, Status.SUBMITTED)
    case = ConsultationFactory(
        status=state,
        patient=child,
        hospital=child.home_hospital,
        requested_by=cast.county_doctor,
        assigned_to=cast.specialist if with_specialist else None,
        reported_at=timezone.now() if state in (Status.REPORTED, Status.CLOSED) else None,
    )
    if action in ("sign",):
        Report.objects.create(consultation=case, version=1, author=cast.specialist, **REPORT)
    if action in ("amend", "write_amendment", "sign_amendment"):
        Report.objects.create(
            consultation=case,
            version=1,
            author=cast.specialist,
            status=Report.Status.SIGNED,
            signed_at=timezone.now(),
            **REPORT,
        )
    if action in ("write_amendment", "sign_amendment"):
        Report.objects.create(
            consultation=case,
            version=2,
            author=cast.specialist,
            amendment_reason="补充",
            **REPORT,
        )
    case.new_study = StudyFactory(patient=child, hospital=child.home_hospital)
    return case


def _service(action, case, cast):  # noqa: ANN001, ANN202
    user = cast.for_action(action)
    edit_version = 1 if action in ("sign", "write_amendment", "sign_amendment") else 0
    calls = {
        "edit": lambda: consultation_update(
            context=SYSTEM, consultation=case, actor=user, question="新问题"
        ),
        "submit": lambda: consultation_submit(context=SYSTEM, consultation=case, actor=user),
        "cancel": lambda: consultation_cancel(
            context=SYSTEM, consultation=case, actor=user, reason="不需要了"
        ),
        "close": lambda: consultation_close(context=SYSTEM, consultation=case, actor=user),
        "accept": lambda: consultation_accept(context=SYSTEM, consultation=case, actor=user),
        "reassign": lambda: consultation_reassign(
            context=SYSTEM,
            consultation=case,
            actor=user,
            specialist=cast.second_specialist,
            reason="休假",
        ),
        "requeue": lambda: consultation_reassign(
            context=SYSTEM, consultation=case, actor=user, specialist=None, reason="休假"
        ),
        "request_info": lambda: consultation_request_info(
            context=SYSTEM, consultation=case, actor=user, question="请补充"
        ),
        "message": lambda: message_post(
            context=SYSTEM, consultation=case, actor=user, body="补充病史"
        ),
        "add_images": lambda: message_post(
            context=SYSTEM,
            consultation=case,
            actor=user,
            body="新图像",
            study_ids=[case.new_study.pk],
        ),
        "write_report": lambda: report_save(
            context=SYSTEM, consultation=case, actor=user, edit_version=edit_version, **REPORT
        ),
        "write_amendment": lambda: report_save(
            context=SYSTEM, consultation=case, actor=user, edit_version=edit_version, **REPORT
        ),
        "sign": lambda: report_sign(
            context=SYSTEM, consultation=case, actor=user, password=PASSWORD
        ),
        "sign_amendment": lambda: report_sign(
            context=SYSTEM, consultation=case, actor=user, password=PASSWORD
        ),
        "amend": lambda: report_amend(context=SYSTEM, consultation=case, actor=user, reason="补充"),
    }
    return calls[action]()


# (method, path suffix, JSON body) of the API call for the actions the API offers.
API = {
    "edit": ("patch", "", {"question": "新问题"}),
    "submit": ("post", "submit/", {}),
    "cancel": ("post", "cancel/", {"text": "不需要了"}),
    "accept": ("post", "accept/", {}),
    "reassign": ("post", "reassign/", {"text": "休假", "specialist": "second"}),
    "requeue": ("post", "reassign/", {"text": "休假", "specialist": None}),
    "request_info": ("post", "request-info/", {"text": "请补充"}),
    "message": ("post", "messages/", {"text": "补充病史"}),
}


def _api(client, action, case, cast):  # noqa: ANN001, ANN202
    method, suffix, body = API[action]
    if body.get("specialist") == "second":
        body = {**body, "specialist": cast.second_specialist.pk}
    call = getattr(client, method)
    return call(f"/api/consultations/{case.pk}/{suffix}", body, content_type="application/json")


def _page(client, action, case, cast):  # noqa: ANN001, ANN202
    report = {**REPORT, "edit_version": "1"}
    sign = {**report, "sign": "1", "password": PASSWORD}
    posts = {
        "edit": ("consultation-edit", {"question": "新问题", "clinical_history": "腹痛"}),
        "submit": ("consultation-submit", {}),
        "cancel": ("consultation-cancel", {"reason": "不需要了"}),
        "close": ("consultation-close", {}),
        "accept": ("consultation-accept", {}),
        "reassign": (
            "consultation-reassign",
            {"specialist": cast.second_specialist.pk, "reason": "休假"},
        ),
        "requeue": ("consultation-reassign", {"specialist": "", "reason": "休假"}),
        "request_info": ("consultation-request-info", {"question": "请补充"}),
        "message": ("consultation-message", {"body": "补充病史"}),
        "add_images": ("consultation-message", {"body": "新图像", "studies": case.new_study.pk}),
        "write_report": ("consultation-report", {**REPORT, "edit_version": "0"}),
        "write_amendment": ("consultation-report", report),
        "sign": ("consultation-report", sign),
        "sign_amendment": ("consultation-report", sign),
        "amend": ("consultation-report-amend", {"reason": "补充"}),
    }
    name, data = posts[action]
    return client.post(reverse(name, args=[case.pk]), data)


def _snapshot(case):  # noqa: ANN001, ANN202
    """Everything a refused action must leave as it was."""
    return {
        "case": Consultation.objects.filter(pk=case.pk).values().get(),
        "events": list(case.events.values_list("pk", flat=True)),
        "assignments": list(
            ConsultationAssignment.objects.filter(consultation=case).values_list("pk", flat=True)
        ),
        "messages": list(case.messages.values_list("pk", flat=True)),
        "reports": list(case.reports.order_by("pk").values()),
        "studies": sorted(case.studies.values_list("pk", flat=True)),
        **side_effects(),
    }


@pytest.mark.parametrize(("state", "action"), PAIRS, ids=[f"{s}-{a}" for s, a in PAIRS])
def test_an_action_the_table_does_not_give_is_refused_everywhere_and_changes_nothing(
    state, action, cast, child, client
):
    case = _case(state, action, cast, child)
    user = cast.for_action(action)
    before = _snapshot(case)

    fresh = Consultation.objects.get(pk=case.pk)
    fresh.new_study = case.new_study
    with pytest.raises(TransitionNotAllowed) as refused:
        _service(action, fresh, cast)
    assert refused.value.http_status == 409 and not isinstance(refused.value, ActorNotAllowed)
    reason = refused.value.reason
    assert _snapshot(case) == before

    visible = consultations_visible_to(user).filter(pk=case.pk).exists()
    client.force_login(user)
    if action in API:
        response = _api(client, action, case, cast)
        if visible:
            assert (response.status_code, response.json()) == (409, {"detail": reason})
        else:
            assert response.status_code == 404
    response = _page(client, action, case, cast)
    if visible:
        assert response.status_code == 409
        assert reason in html.unescape(response.content.decode())
        assert AuditEvent.objects.filter(
            action=Action.DENIED,
            object_id=str(case.pk),
            reason=f"action refused: {refused.value.action}",
        ).exists()
    else:
        assert response.status_code == 404
    assert _snapshot(case) == before


def test_every_action_leads_where_the_status_graph_goes():
    """Each move of the ACTIONS table is a path of one or two steps in TRANSITIONS (accepting
    from the queue assigns first; submitting routes)."""
    from consult.models import TRANSITIONS

    for action, rule in ACTIONS.items():
        for source, target in rule.moves.items():
            if target is None:
                continue
            two_steps = {t for m in TRANSITIONS[source] for t in TRANSITIONS[m]}
            assert target in TRANSITIONS[source] | two_steps, (action, source, target)


# --- the regression: submitting a case a specialist already has -----------------------------


@pytest.mark.parametrize("fixture", ["assigned", "in_review"])
def test_the_referring_doctor_cannot_pull_a_case_back_by_submitting_it_again(
    fixture, request, client, county_doctor
):
    case = request.getfixturevalue(fixture)
    specialist, status = case.assigned_to, case.status
    before = _snapshot(case)
    client.force_login(county_doctor)

    api = client.post(f"/api/consultations/{case.pk}/submit/")
    page = client.post(reverse("consultation-submit", args=[case.pk]))

    assert api.status_code == 409 and "in this state you cannot submit" in api.json()["detail"]
    assert page.status_code == 409
    assert "in this state you cannot submit" in html.unescape(page.content.decode())
    case.refresh_from_db()
    assert (case.status, case.assigned_to) == (status, specialist)
    assert _snapshot(case) == before  # no event, no notification, no assignment


# --- who: enforced by the service, not only hidden in the page ------------------------------


def test_only_the_assigned_specialist_may_sign(in_review, second_specialist, coordinator, client):
    report_save(
        context=SYSTEM,
        consultation=in_review,
        actor=in_review.assigned_to,
        edit_version=0,
        **REPORT,
    )
    for user in (second_specialist, coordinator):
        with pytest.raises(ActorNotAllowed, match="Only the specialist reading this case"):
            report_sign(context=SYSTEM, consultation=in_review, actor=user, password=PASSWORD)
    client.force_login(coordinator)
    response = client.post(
        reverse("consultation-report", args=[in_review.pk]),
        {**REPORT, "edit_version": "1", "sign": "1", "password": PASSWORD},
    )
    assert response.status_code == 403
    assert in_review.reports.get().status == Report.Status.DRAFT


def test_a_coordinator_may_reassign_a_specialist_may_not(
    in_review, second_specialist, coordinator, client
):
    with pytest.raises(ActorNotAllowed, match="Only a coordinator"):
        consultation_reassign(
            context=SYSTEM,
            consultation=in_review,
            actor=in_review.assigned_to,
            specialist=second_specialist,
            reason="我没空",
        )
    client.force_login(in_review.assigned_to)
    response = client.post(
        f"/api/consultations/{in_review.pk}/reassign/",
        {"text": "我没空", "specialist": second_specialist.pk},
        content_type="application/json",
    )
    assert response.status_code == 403 and "Only a coordinator" in response.json()["detail"]
    consultation_reassign(
        context=SYSTEM,
        consultation=in_review,
        actor=coordinator,
        specialist=second_specialist,
        reason="休假",
    )
    in_review.refresh_from_db()
    assert (in_review.status, in_review.assigned_to) == (Status.ASSIGNED, second_specialist)


def test_the_referring_doctor_cannot_accept_their_own_case(assigned, county_doctor, client):
    client.force_login(county_doctor)
    response = client.post(f"/api/consultations/{assigned.pk}/accept/")
    assert response.status_code == 403
    assert response.json() == {"detail": "Only a specialist can accept a case."}
    assert Consultation.objects.get(pk=assigned.pk).status == Status.ASSIGNED


def test_asking_twice_for_information_is_refused_and_sends_nothing_more(in_review):
    consultation_request_info(
        context=SYSTEM, consultation=in_review, actor=in_review.assigned_to, question="?"
    )
    sent = Notification.objects.count()
    with pytest.raises(TransitionNotAllowed, match="cannot ask for information"):
        consultation_request_info(
            context=SYSTEM, consultation=in_review, actor=in_review.assigned_to, question="?"
        )
    assert Notification.objects.count() == sent
