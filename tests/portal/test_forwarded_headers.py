"""X-Real-IP and X-Forwarded-* are believed only from TRUSTED_PROXIES: any other client gets
its own address in the audit trail and cannot escape the portal's per-address limit."""

from consult.portal.services import portal_share_create
from core.audit import SYSTEM
from core.models import AuditEvent
from tests.portal.conftest import link_token, post

WRONG_DOB = {"action": "dob", "birth_date": "2020-01-01"}
PEER = "198.51.100.9"


def spoofing(n: int) -> dict[str, str]:
    return {"HTTP_X_REAL_IP": f"10.0.0.{n}", "HTTP_X_FORWARDED_FOR": f"10.1.0.{n}"}


def test_a_client_not_behind_a_trusted_proxy_is_audited_by_its_own_address(client, db):
    client.get("/p/not-a-link", REMOTE_ADDR=PEER, **spoofing(1))
    assert AuditEvent.objects.get(reason="malformed").ip == PEER


def test_behind_a_trusted_proxy_the_forwarded_client_address_is_audited(client, db, settings):
    settings.TRUSTED_PROXIES = ["192.0.2.0/28"]
    client.get(
        "/p/not-a-link", REMOTE_ADDR="192.0.2.3", HTTP_X_FORWARDED_FOR="203.0.113.50, 192.0.2.4"
    )
    assert AuditEvent.objects.get(reason="malformed").ip == "203.0.113.50"


def test_changing_forwarded_headers_does_not_escape_the_per_address_limit(
    client_factory, signed_report, mother, father, county_doctor, child
):
    portal_share_create(
        report=signed_report, guardians=[mother, father], user=county_doctor, context=SYSTEM
    )
    guesser = client_factory(REMOTE_ADDR=PEER)
    guesser.get(f"/p/{link_token(mother.mobile)}")
    for n in range(5):
        post(guesser, WRONG_DOB, **spoofing(n))
    guesser.get(f"/p/{link_token(father.mobile)}")
    right = {"action": "dob", "birth_date": child.birth_date.isoformat()}
    assert post(guesser, right, **spoofing(99)).status_code == 429


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    client_factory, signed_report, mother, father, county_doctor, child, settings
):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    portal_share_create(
        report=signed_report, guardians=[mother, father], user=county_doctor, context=SYSTEM
    )
    guesser = client_factory(HTTP_X_REAL_IP="203.0.113.66")
    guesser.get(f"/p/{link_token(mother.mobile)}")
    for _ in range(5):
        post(guesser, WRONG_DOB)
    father_phone = client_factory(HTTP_X_REAL_IP="203.0.113.77")
    father_phone.get(f"/p/{link_token(father.mobile)}")
    right = {"action": "dob", "birth_date": child.birth_date.isoformat()}
    assert post(father_phone, right).status_code == 302


def test_a_forwarded_https_claim_from_anyone_else_does_not_skip_the_https_redirect(
    client, db, settings
):
    settings.SECURE_SSL_REDIRECT = True
    claims_https = {"HTTP_X_FORWARDED_PROTO": "https"}
    assert client.get("/login/", REMOTE_ADDR=PEER, **claims_https).status_code == 301
    settings.TRUSTED_PROXIES = [PEER]
    assert client.get("/login/", REMOTE_ADDR=PEER, **claims_https).status_code == 200
