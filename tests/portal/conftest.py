"""Portal fixtures: a signed report about the county child, two guardians, a share link."""

import re

import pytest

from consult.portal.services import portal_share_create
from core.audit import SYSTEM
from core.models import Notification
from tests.factories import GuardianFactory, SignedReportFactory

LINK_RE = re.compile(r"/p/([A-Za-z0-9_-]{32})")
CODE_RE = re.compile(r"(\d{6})")


@pytest.fixture
def mother(child):
    return GuardianFactory(patient=child, name="李妈妈", mobile="13800001111")


@pytest.fixture
def father(child):
    return GuardianFactory(patient=child, name="李爸爸", relation="father", mobile="13900002222")


@pytest.fixture
def signed_report(child, county_doctor, specialist, mother):
    return SignedReportFactory(
        consultation__patient=child,
        consultation__hospital=child.home_hospital,
        consultation__requested_by=county_doctor,
        author=specialist,
    )


def last_sms(to: str, kind: str) -> str:
    return (
        Notification.objects.filter(address=to, kind=kind, channel="sms")
        .order_by("-id")
        .first()
        .body
    )


def link_token(to: str) -> str:
    return LINK_RE.search(last_sms(to, "portal_link")).group(1)


def sms_code(to: str) -> str:
    return CODE_RE.search(last_sms(to, "portal_code")).group(1)


@pytest.fixture
def share_link(signed_report, mother, county_doctor):
    """The mother's share of the signed report and the token from her SMS."""
    (share,) = portal_share_create(
        report=signed_report, guardians=[mother], user=county_doctor, context=SYSTEM
    )
    return share, link_token(mother.mobile)


@pytest.fixture
def opened(client, share_link, child, mother):
    """A client that opened the link, confirmed the birth date and entered the code."""

    def _open(c=None, share=None, token=None):  # noqa: ANN001, ANN202
        c = c or client
        s, t = share_link if share is None else (share, token)
        c.get(f"/p/{t}")
        post(c, {"action": "dob", "birth_date": s.patient.birth_date.isoformat()})
        post(c, {"action": "code", "code": sms_code(s.guardian.mobile)})
        return c

    return _open


@pytest.fixture(autouse=True)
def _fresh_limits(settings):
    """Every test starts with empty attempt counters (Redis db of the test run)."""
    import redis

    r = redis.Redis.from_url(settings.PORTAL_LIMIT_REDIS_URL)
    for key in r.scan_iter("portal:*"):
        r.delete(key)
    yield


@pytest.fixture
def english(settings):
    """Pages in English, for tests that match texts (the default is Chinese)."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


from tests.consult.conftest import assigned, draft, in_review, on_call_specialist  # noqa: E402, F401


def portal_key(c) -> str:  # noqa: ANN001
    """The visit's form key from the client's portal cookie (what the page's forms carry)."""
    import json

    from django.http import HttpRequest

    from consult.portal.views import COOKIE, SALT

    request = HttpRequest()
    request.COOKIES[COOKIE] = c.cookies[COOKIE].value
    return json.loads(request.get_signed_cookie(COOKIE, salt=SALT))["k"]


def signed_portal_cookie(value: dict) -> str:
    """A portal cookie value signed as the server would (for forged-stage tests)."""
    import json

    from django.http import HttpResponse

    from consult.portal.views import COOKIE, SALT

    response = HttpResponse()
    response.set_signed_cookie(COOKIE, json.dumps(value), salt=SALT)
    return response.cookies[COOKIE].value


def post(c, data: dict, path: str = "/p/", **kwargs):  # noqa: ANN001, ANN201
    """POST a portal form as the page would, with the visit's form key."""
    return c.post(path, {**data, "k": portal_key(c)}, **kwargs)
