"""The share link's SHARE_ACTIONS table is the law: every (state, action) it does not give is
refused by the service and by the page, and changes nothing (no code, no text, no opening).

The doctor's page answers 409 with the reason. The guardian's pages answer a dead link
(revoked, expired) with the existing 410 page that says so and whom to call, and a
superseded version with 409 and the offer of the current one."""

import datetime as dt
import html

import pytest
from django.test import RequestFactory
from django.utils import timezone

from consult.models import SHARE_ACTIONS, PortalShare, Report, ShareState
from consult.portal.services import (
    portal_check_birth_date,
    portal_check_code,
    portal_code_send,
    portal_report_viewed,
    portal_share_create,
    portal_token_revoke,
)
from core.audit import SYSTEM, AuditContext
from core.models import AuditEvent
from core.transitions import ActorNotAllowed, TransitionNotAllowed, refused_pairs
from tests.factories import SignedReportFactory
from tests.portal.conftest import signed_portal_cookie
from tests.side_effects import side_effects

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english")]

PAIRS = refused_pairs(SHARE_ACTIONS, ShareState.values)
KEY = "test-form-key"
GONE = {
    ShareState.REVOKED: "This link was withdrawn",
    ShareState.EXPIRED: "This link has expired",
}


def _share(state, signed_report, mother, county_doctor):  # noqa: ANN001, ANN202
    (share,) = portal_share_create(
        report=signed_report, guardians=[mother], user=county_doctor, context=SYSTEM
    )
    at = timezone.now()
    changes = {
        ShareState.OPENED: {"first_opened_at": at, "last_used_at": at, "open_count": 1},
        ShareState.EXPIRED: {"expires_at": at - dt.timedelta(minutes=1)},
        ShareState.REVOKED: {"revoked_at": at, "revoked_by": county_doctor},
    }.get(state, {})
    PortalShare.objects.filter(pk=share.pk).update(**changes)
    if state == ShareState.SUPERSEDED:
        Report.objects.filter(pk=signed_report.pk).update(status=Report.Status.SUPERSEDED)
        SignedReportFactory(
            consultation=signed_report.consultation, version=2, author=signed_report.author
        )
    share = PortalShare.objects.select_related("report", "patient", "guardian").get(pk=share.pk)
    assert share.state == state
    return share


def _service(action, share, county_doctor):  # noqa: ANN001, ANN202
    calls = {
        "revoke": lambda: portal_token_revoke(share=share, user=county_doctor, context=SYSTEM),
        "check_birth_date": lambda: portal_check_birth_date(
            share=share, birth_date=share.patient.birth_date, context=AuditContext(ip="10.1.2.3")
        ),
        "send_code": lambda: portal_code_send(share=share),
        "check_code": lambda: portal_check_code(
            share=share, code="123456", context=AuditContext(ip="10.1.2.3")
        ),
        "view": lambda: portal_report_viewed(
            share=share, context=AuditContext.from_request(RequestFactory().get("/p/report/"))
        ),
    }
    return calls[action]()


def _page(client, action, share, county_doctor):  # noqa: ANN001, ANN202
    if action == "revoke":
        client.force_login(county_doctor)
        return client.post(f"/p/staff/shares/{share.pk}/revoke/")
    stage = {"check_birth_date": "dob", "view": "ok"}.get(action, "code")
    client.cookies["pl_portal"] = signed_portal_cookie({"s": share.pk, "st": stage, "k": KEY})
    if action == "view":
        return client.get("/p/report/")
    form = {
        "check_birth_date": {"action": "dob", "birth_date": share.patient.birth_date.isoformat()},
        "send_code": {"action": "resend"},
        "check_code": {"action": "code", "code": "123456"},
    }[action]
    return client.post("/p/", {**form, "k": KEY})


def _snapshot(share):  # noqa: ANN001, ANN202
    return {
        "share": PortalShare.objects.filter(pk=share.pk).values().get(),
        "shares": list(PortalShare.objects.values_list("pk", flat=True)),
        **side_effects(),
    }


@pytest.mark.parametrize(("state", "action"), PAIRS, ids=[f"{s}-{a}" for s, a in PAIRS])
def test_an_action_the_table_does_not_give_is_refused_and_changes_nothing(
    state, action, signed_report, mother, county_doctor, client
):
    share = _share(state, signed_report, mother, county_doctor)
    before = _snapshot(share)

    with pytest.raises(TransitionNotAllowed) as refused:
        _service(action, share, county_doctor)
    assert refused.value.http_status == 409 and not isinstance(refused.value, ActorNotAllowed)
    assert _snapshot(share) == before

    response = _page(client, action, share, county_doctor)
    page = html.unescape(response.content.decode())
    if action == "revoke":
        assert response.status_code == 409 and refused.value.reason in page
    elif state in GONE:
        assert response.status_code == 410 and GONE[state] in page
    else:
        assert response.status_code == 409 and "There is a newer version" in page
    assert _snapshot(share) == before


def test_revoking_a_revoked_link_again_writes_nothing(share_link, county_doctor, login):
    share, _token = share_link
    portal_token_revoke(share=share, user=county_doctor, context=SYSTEM)
    audit_rows = AuditEvent.objects.filter(reason="portal link revoked").count()
    response = login(county_doctor).post(f"/p/staff/shares/{share.pk}/revoke/")
    assert response.status_code == 409
    assert AuditEvent.objects.filter(reason="portal link revoked").count() == audit_rows == 1


def test_only_the_referring_hospital_or_a_coordinator_may_revoke(share_link, specialist):
    share, _token = share_link
    with pytest.raises(ActorNotAllowed, match="Only the referring hospital or a coordinator"):
        portal_token_revoke(share=share, user=specialist, context=SYSTEM)
    assert PortalShare.objects.get(pk=share.pk).revoked_at is None
