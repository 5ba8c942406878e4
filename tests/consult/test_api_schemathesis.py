"""Schemathesis against /api/schema/ (drf-spectacular): requests generated from the schema,
valid and invalid, to every operation of the REST API, as a referring doctor and as a
specialist (token authentication), in process through Django's WSGI handler on the test
database. No answer may be a server error.

Bounded and derandomized so CI is stable: API_FUZZ_EXAMPLES examples per operation and role
(default 6). Each example whose path names an object is sent twice: with the generated id,
and with the id of a real row the user may see, so that bodies reach the views.
"""

from __future__ import annotations

import os
import re

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode

from tests.factories import GuardianFactory, ReferralFactory

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore")]

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "6"))
NOT_OBJECTS = [None, 0, "x", [1]]


@pytest.fixture
def api_schema(db):  # noqa: ANN201
    """The schema, and its requests, served in process. As Django's test client does, the
    handler must not close the test's database connection at the end of each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def real_ids(county_doctor, child, draft, in_review, on_call_specialist):  # noqa: ANN001, ANN201
    """Rows a role may see: its hospital, itself, the child, a consultation, a referral."""
    GuardianFactory(patient=child)
    referral = ReferralFactory(patient=child, source_doctor=county_doctor)

    def for_user(user):  # noqa: ANN001, ANN202
        return {
            "/api/hospitals/{id}/": user.hospital_id,
            "/api/users/{id}/": user.pk,
            "/api/patients/{id}/": child.pk,
            "/api/consultations/{id}/": (draft if user == county_doctor else in_review).pk,
            "/api/referrals/{id}/": referral.pk,
        }

    return for_user


def _real_id(path: str, ids: dict[str, int]) -> int | None:
    for prefix, pk in ids.items():
        if path.startswith(prefix.removesuffix("{id}/")):
            return pk
    return None


def _no_server_error(case, user, ids: dict[str, int]) -> None:  # noqa: ANN001
    token, _created = Token.objects.get_or_create(user=user)
    headers = {"Authorization": f"Token {token.key}"}
    response = case.call(headers=headers)
    case.validate_response(response, checks=[not_a_server_error], headers=headers)
    if "id" in (case.path_parameters or {}):
        pk = _real_id(case.operation.path, ids)
        if pk is not None:
            case.path_parameters["id"] = pk
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error], headers=headers)


def _strategy(operation):  # noqa: ANN001, ANN202
    """Valid requests and, where the schema allows a wrong one, invalid ones."""
    valid = operation.as_strategy(GenerationMode.POSITIVE)
    try:
        return st.one_of(valid, operation.as_strategy(GenerationMode.NEGATIVE))
    except Exception:  # noqa: BLE001 - an operation with nothing to get wrong
        return valid


def _not_objects(operation, ids: dict[str, int]) -> list:  # noqa: ANN001
    """Whatever the generator draws, every operation that reads a JSON body also gets the
    JSON values that are not objects (the issue's 500), on a row the user may see."""
    if operation.method.upper() not in ("POST", "PUT", "PATCH"):
        return []
    params = {
        name: _real_id(operation.path, ids) or 1 if name == "id" else "1.2.3"
        for name in re.findall(r"{(\w+)}", operation.path)
    }
    return [
        operation.Case(path_parameters=dict(params), body=body, media_type="application/json")
        for body in NOT_OBJECTS
    ]


def _run_every_operation(api_schema, user, ids: dict[str, int]) -> None:  # noqa: ANN001
    """Each operation under its own bounded, derandomized Hypothesis run; every operation
    is tried even when one fails, and the failures are reported together (schemathesis
    puts a curl command to reproduce each in its message)."""
    failures, tried = [], 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        tried += 1

        @BOUNDED
        @given(case=_strategy(operation))
        def run(case) -> None:  # noqa: ANN001
            _no_server_error(case, user, ids)

        try:
            run()
            for case in _not_objects(operation, ids):
                _no_server_error(case, user, ids)
        except (Exception, FailureGroup) as exc:  # collected, reported below
            failures.append(f"{operation.label}: {exc}")
    assert tried > 20  # the whole API was walked
    assert not failures, "\n\n".join(failures)


BOUNDED = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],  # a failure is reported as found, not shrunk
)


def test_no_api_operation_answers_a_server_error_to_a_referring_doctor(
    api_schema, county_doctor, real_ids
):
    _run_every_operation(api_schema, county_doctor, real_ids(county_doctor))


def test_no_api_operation_answers_a_server_error_to_a_specialist(api_schema, specialist, real_ids):
    _run_every_operation(api_schema, specialist, real_ids(specialist))
