"""The referral's ACTIONS table is the law: every (state, action) it does not give is refused by
the service, answered 409 with the reason by the API and the page, and changes nothing."""

import datetime as dt
import html

import pytest
from django.utils import timezone

from core.audit import SYSTEM, Action
from core.models import AuditEvent
from core.transitions import ActorNotAllowed, TransitionNotAllowed, refused_pairs
from referrals.models import ACTIONS, Referral, Status, Transport
from referrals.services import (
    referral_accept,
    referral_arrive,
    referral_cancel,
    referral_complete,
    referral_decline,
    referral_depart,
    referral_redirect,
    referral_schedule,
)
from tests.factories import ReferralFactory
from tests.side_effects import side_effects

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

PAIRS = refused_pairs(ACTIONS, Status.values)
ACTOR = {"redirect": "coordinator", "depart": "county_doctor", "cancel": "county_doctor"}
WHEN = timezone.now() + dt.timedelta(days=3)


@pytest.fixture
def people(surgeon, coordinator, county_doctor, cardiology):
    return {
        "surgeon": surgeon,
        "coordinator": coordinator,
        "county_doctor": county_doctor,
        "cardiology": cardiology,
    }


def _referral(state, reported, surgery):  # noqa: ANN001, ANN202
    scheduled = state in (Status.SCHEDULED, Status.IN_TRANSIT, Status.ARRIVED, Status.COMPLETED)
    return ReferralFactory(
        patient=reported.patient,
        consultation=reported,
        source_doctor=reported.requested_by,
        receiving_department=surgery,
        status=state,
        scheduled_for=WHEN if scheduled else None,
        report_to="门诊" if scheduled else "",
        transport=Transport.OWN if scheduled else "",
    )


def _service(action, referral, people):  # noqa: ANN001, ANN202
    user = people[ACTOR.get(action, "surgeon")]
    calls = {
        "accept": lambda: referral_accept(referral=referral, actor=user, context=SYSTEM),
        "decline": lambda: referral_decline(
            referral=referral, actor=user, context=SYSTEM, reason_code="no_bed"
        ),
        "redirect": lambda: referral_redirect(
            referral=referral, actor=user, context=SYSTEM, department=people["cardiology"]
        ),
        "schedule": lambda: referral_schedule(
            referral=referral,
            actor=user,
            context=SYSTEM,
            scheduled_for=WHEN,
            slot="3床",
            report_to="门诊",
            transport=Transport.OWN,
        ),
        "depart": lambda: referral_depart(referral=referral, actor=user, context=SYSTEM),
        "arrive": lambda: referral_arrive(referral=referral, actor=user, context=SYSTEM),
        "complete": lambda: referral_complete(
            referral=referral, actor=user, context=SYSTEM, outcome_note="好"
        ),
        "cancel": lambda: referral_cancel(
            referral=referral, actor=user, context=SYSTEM, reason="家属拒绝"
        ),
    }
    return calls[action]()


def _body(action, people):  # noqa: ANN001, ANN202
    """The form of the action, as the page and the API take it."""
    return {
        "decline": {"reason_code": "no_bed"},
        "redirect": {"department": people["cardiology"].pk},
        "schedule": {
            "scheduled_for": timezone.localtime(WHEN).strftime("%Y-%m-%dT%H:%M"),
            "report_to": "门诊",
            "transport": Transport.OWN,
        },
        "complete": {"outcome_note": "好"},
        "cancel": {"reason": "家属拒绝"},
    }.get(action, {})


def _snapshot(referral):  # noqa: ANN001, ANN202
    return {
        "referral": Referral.objects.filter(pk=referral.pk).values().get(),
        "events": list(referral.events.values_list("pk", flat=True)),
        **side_effects(),
    }


@pytest.mark.parametrize(("state", "action"), PAIRS, ids=[f"{s}-{a}" for s, a in PAIRS])
def test_an_action_the_table_does_not_give_is_refused_everywhere_and_changes_nothing(
    state, action, people, reported, surgery, client
):
    referral = _referral(state, reported, surgery)
    before = _snapshot(referral)

    with pytest.raises(TransitionNotAllowed) as refused:
        _service(action, Referral.objects.get(pk=referral.pk), people)
    assert refused.value.http_status == 409 and not isinstance(refused.value, ActorNotAllowed)
    reason = refused.value.reason
    assert _snapshot(referral) == before

    client.force_login(people[ACTOR.get(action, "surgeon")])
    api = client.post(
        f"/api/referrals/{referral.pk}/{action}/",
        _body(action, people),
        content_type="application/json",
    )
    assert (api.status_code, api.json()) == (409, {"detail": reason})
    page = client.post(f"/referrals/{referral.pk}/{action}/", _body(action, people))
    assert page.status_code == 409
    assert reason in html.unescape(page.content.decode())
    assert _snapshot(referral) == before
    assert AuditEvent.objects.filter(
        action=Action.DENIED, object_id=str(referral.pk), reason=f"action refused: {action}"
    ).exists()


def test_every_action_follows_the_status_graph():
    from referrals.models import TRANSITIONS

    for action, rule in ACTIONS.items():
        for source, target in rule.moves.items():
            assert target is None or target in TRANSITIONS[source], (action, source, target)


def test_the_referring_doctor_may_not_answer_for_the_department(requested, county_doctor, client):
    client.force_login(county_doctor)
    response = client.post(f"/api/referrals/{requested.pk}/accept/")
    assert response.status_code == 403
    assert response.json() == {"detail": "Only the receiving department can do this."}
    page = client.post(f"/referrals/{requested.pk}/accept/")
    assert page.status_code == 403 and "Only the receiving department" in page.content.decode()
    assert Referral.objects.get(pk=requested.pk).status == Status.REQUESTED
