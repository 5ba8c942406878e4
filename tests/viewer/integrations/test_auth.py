"""Bearer integration tokens, for DRF views as well as the DICOMweb views."""

import pytest
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from viewer.integrations.auth import BearerTokenAuthentication
from viewer.integrations.services import integration_token_create, integration_token_revoke


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


def test_a_token_is_looked_up_once_then_answered_from_the_process_cache(
    county_hospital, alliance_admin, django_assert_num_queries
):
    _token, secret = integration_token_create(
        hospital=county_hospital, name="PACS", created_by=alliance_admin
    )
    first, _auth = BearerTokenAuthentication().authenticate(drf_request(f"Bearer {secret}"))
    with django_assert_num_queries(0):
        again, _auth = BearerTokenAuthentication().authenticate(drf_request(f"Bearer {secret}"))
    assert again == first
    assert again is not first  # each request its own copy of the account


def test_a_revoked_token_is_refused_on_the_next_request(county_hospital, alliance_admin):
    token, secret = integration_token_create(
        hospital=county_hospital, name="PACS", created_by=alliance_admin
    )
    BearerTokenAuthentication().authenticate(drf_request(f"Bearer {secret}"))  # now cached
    integration_token_revoke(token=token, user=alliance_admin)
    with pytest.raises(AuthenticationFailed):
        BearerTokenAuthentication().authenticate(drf_request(f"Bearer {secret}"))


def test_a_deactivated_token_account_is_refused_on_the_next_request(
    county_hospital, alliance_admin
):
    token, secret = integration_token_create(
        hospital=county_hospital, name="PACS", created_by=alliance_admin
    )
    BearerTokenAuthentication().authenticate(drf_request(f"Bearer {secret}"))  # now cached
    account = token.account
    account.is_active = False
    account.save()  # as the admin's user page does
    with pytest.raises(AuthenticationFailed):
        BearerTokenAuthentication().authenticate(drf_request(f"Bearer {secret}"))
