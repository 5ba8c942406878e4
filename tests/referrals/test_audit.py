"""Every change to a referral leaves one audit row, written by its service in the change's
transaction: who acted, the referral and the child, and where from (the page's and the API's
address; the system's empty context when a service is called directly)."""

import pytest
from django.urls import reverse

from core.audit import SYSTEM, Action, AuditContext
from core.models import AuditEvent
from referrals.models import Status
from referrals.services import ReferralError, referral_accept, referral_cancel

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]


def _changes(referral):
    return list(
        AuditEvent.objects.filter(
            object_type="referral",
            object_id=str(referral.pk),
            action__in=[Action.CREATE, Action.UPDATE],
        )
        .order_by("id")
        .values_list("action", "user_id", "patient_id", "outcome", "reason", "ip")
    )


def test_the_request_from_the_page_is_audited_once_with_its_address(
    client, reported, county_doctor, surgery, surgery_head
):
    client.force_login(county_doctor)
    url = reverse("referrals:new") + f"?consultation={reported.pk}"
    client.post(url, {"department": surgery.pk, "urgency": "urgent", "reason": "需手术"})
    referral = reported.referrals.get()
    assert _changes(referral) == [
        (Action.CREATE, county_doctor.pk, reported.patient_id, "success", "", "127.0.0.1")
    ]


def test_a_page_action_is_audited_once_by_its_service(client, requested, surgeon):
    client.force_login(surgeon)
    client.post(reverse("referrals:action", args=[requested.pk, "accept"]))
    assert _changes(requested)[1:] == [
        (Action.UPDATE, surgeon.pk, requested.patient_id, "success", "accepted", "127.0.0.1")
    ]


def test_an_api_action_is_audited_once_by_its_service(client, accepted, county_doctor):
    client.force_login(county_doctor)
    response = client.post(
        f"/api/referrals/{accepted.pk}/cancel/", {"reason": "家属拒绝"}, "application/json"
    )
    assert response.status_code == 200
    assert _changes(accepted)[-1] == (
        Action.UPDATE,
        county_doctor.pk,
        accepted.patient_id,
        "success",
        "cancelled",
        "127.0.0.1",
    )


def test_a_service_records_the_context_it_is_given(requested, surgeon):
    context = AuditContext(ip="10.0.0.7", user_agent="ward tablet", request_id="r-1")
    referral_accept(referral=requested, actor=surgeon, context=context)
    row = AuditEvent.objects.filter(action=Action.UPDATE, object_id=str(requested.pk)).get()
    assert (row.user, row.ip, row.user_agent, row.request_id) == (
        surgeon,
        "10.0.0.7",
        "ward tablet",
        "r-1",
    )


def test_a_refused_change_leaves_no_audit_row_of_a_change(scheduled, surgeon, county_doctor):
    from referrals.services import referral_arrive

    referral_arrive(referral=scheduled, actor=surgeon, context=SYSTEM)
    before = _changes(scheduled)
    with pytest.raises(ReferralError):
        referral_cancel(referral=scheduled, actor=county_doctor, context=SYSTEM, reason="x")
    assert _changes(scheduled) == before
    assert scheduled.status == Status.ARRIVED
