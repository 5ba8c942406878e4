"""Bearer integration tokens, for DRF views as well as the DICOMweb views."""

import pytest
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from viewer.auth import BearerTokenAuthentication
from viewer.services import integration_token_create, integration_token_revoke


def drf_request(header: str | None) -> Request:
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    return Request(APIRequestFactory().get("/api/x", **extra))


def test_a_token_authenticates_as_its_hospital_account(county_hospital, alliance_admin):
    token, secret = integration_token_create(
        hospital=county_hospital, name="PACS", created_by=alliance_admin
    )
    user, _auth = BearerTokenAuthentication().authenticate(drf_request(f"Bearer {secret}"))
    assert user == token.account
    assert user.hospital == county_hospital
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_revoked_or_unknown_token_is_refused(county_hospital, alliance_admin):
    token, secret = integration_token_create(
        hospital=county_hospital, name="PACS", created_by=alliance_admin
    )
    integration_token_revoke(token=token, user=alliance_admin)
    for header in (f"Bearer {secret}", "Bearer pl_nonsense"):
        with pytest.raises(AuthenticationFailed):
            BearerTokenAuthentication().authenticate(drf_request(header))


def test_no_bearer_header_leaves_other_authenticators_to_try(db):
    assert BearerTokenAuthentication().authenticate(drf_request(None)) is None
    assert BearerTokenAuthentication().authenticate(drf_request("Token abc")) is None
