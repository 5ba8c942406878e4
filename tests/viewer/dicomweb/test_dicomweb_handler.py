"""Bearer-token DICOMweb through Django's handler with the DICOMweb middleware list
(pedslink/handlers.py), through a real uvicorn: the same view, services, checks, headers and
audit row as through the full stack; a session STOW keeps its CSRF check, a refused Host is
refused."""

from __future__ import annotations

import http.client
import json
from types import SimpleNamespace

import pytest

from core.models import AuditEvent
from tests.viewer.dicom_builders import make_dataset, make_file, to_bytes
from tests.viewer.ingest.test_ingest_batching import stow_body
from tests.viewer.rendering.test_frame_links import session_cookie
from viewer.integrations.services import integration_token_create, integration_token_revoke
from viewer.models import Instance, Source

pytestmark = pytest.mark.django_db(transaction=True)


def post(server, files: list[bytes], path: str = "/dicomweb/studies", **headers: str):
    body, ctype = stow_body(files)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    sent = {"Content-Type": ctype, **{k.replace("_", "-"): v for k, v in headers.items()}}
    conn.request("POST", path, body=body, headers=sent)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    found = {k.lower(): v for k, v in response.getheaders()}
    return SimpleNamespace(
        status=response.status,
        json=json.loads(data) if data.startswith(b"{") else None,
        headers=found,
    )


def test_a_bearer_stow_is_served_with_its_checks_headers_and_audit_row(server, county_token, child):
    first = make_dataset()
    answer = post(
        server, [to_bytes(first)], Authorization=f"Bearer {county_token}", X_Request_ID="stow-1"
    )
    assert answer.status == 200
    [item] = answer.json["00081199"]["Value"]
    assert item["00081155"]["Value"] == [first.SOPInstanceUID]
    study_url = f"http://127.0.0.1:{server.port}/dicomweb/studies/{first.StudyInstanceUID}"
    assert answer.json["00081190"]["Value"] == [study_url]
    assert item["00081190"]["Value"][0].startswith(study_url + "/series/")
    assert answer.headers["content-type"] == "application/dicom+json"
    assert answer.headers["x-request-id"] == "stow-1"
    for header in (
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "content-security-policy",
        "permissions-policy",
    ):
        assert header in answer.headers
    instance = Instance.objects.select_related("series__study").get(
        sop_instance_uid=first.SOPInstanceUID
    )
    assert (instance.source, instance.series.study.patient) == (Source.STOW, child)
    audit = AuditEvent.objects.get(object_type="dicom_upload")
    assert (audit.patient, audit.reason, audit.request_id) == (
        child,
        "accepted=1 total=1",
        "stow-1",
    )
    assert audit.username.startswith("integration-COUNTY")
    again = post(server, [to_bytes(first)], Authorization=f"Bearer {county_token}")
    assert again.status == 200  # already stored: referenced again
    assert AuditEvent.objects.filter(object_type="dicom_upload").count() == 2


def test_another_hospitals_study_is_refused(server, county_token, other_hospital, alliance_admin):
    outsider = integration_token_create(
        hospital=other_hospital, name="Other PACS", created_by=alliance_admin
    )[1]
    first = make_dataset()
    assert post(server, [to_bytes(first)], Authorization=f"Bearer {county_token}").status == 200
    intruder = make_dataset(study_uid=first.StudyInstanceUID, series_uid=first.SeriesInstanceUID)
    refused = post(server, [to_bytes(intruder)], Authorization=f"Bearer {outsider}")
    assert refused.status == 409
    reason = refused.json["00081198"]["Value"][0]["00000902"]["Value"][0]
    assert "another hospital" in reason
    assert not Instance.objects.filter(sop_instance_uid=intruder.SOPInstanceUID).exists()


def test_a_revoked_token_is_refused_at_once(server, county_hospital, alliance_admin):
    token, secret = integration_token_create(
        hospital=county_hospital, name="PACS", created_by=alliance_admin
    )
    assert post(server, [make_file()], Authorization=f"Bearer {secret}").status == 200
    integration_token_revoke(token=token, user=alliance_admin)
    refused = post(server, [make_file()], Authorization=f"Bearer {secret}")
    assert refused.status == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")


def test_a_malformed_body_and_a_study_url_mismatch_answer_as_through_django(server, county_token):
    body = post(server, [], Authorization=f"Bearer {county_token}")
    assert body.status == 200  # an empty multipart body: nothing referenced, nothing failed
    wrong = post(
        server,
        [make_file()],
        path=f"/dicomweb/studies/{make_dataset().StudyInstanceUID}",
        Authorization=f"Bearer {county_token}",
    )
    assert wrong.status == 409
    assert "another study" in wrong.json["00081198"]["Value"][0]["00000902"]["Value"][0]


def test_a_session_stow_still_needs_its_csrf_token_and_goes_through_django(server, county_doctor):
    refused = post(server, [make_file()], Cookie=session_cookie(county_doctor))
    assert refused.status == 403


def test_a_host_django_does_not_serve_is_refused_by_django(server, county_token):
    refused = post(
        server, [make_file()], Authorization=f"Bearer {county_token}", Host="pedslink.evil.example"
    )
    assert refused.status == 400


def test_bearer_dicomweb_runs_the_declared_middleware_list_only():
    """The handler is Django's own, loading DICOMWEB_MIDDLEWARE: no CSRF, session or
    authentication middleware for a token, and the full list is left as it was."""
    from django.conf import settings
    from django.core.handlers.asgi import ASGIHandler
    from django.middleware.csrf import CsrfViewMiddleware

    from pedslink.handlers import DicomwebHandler

    full = list(settings.MIDDLEWARE)
    light = DicomwebHandler()
    assert list(settings.MIDDLEWARE) == full
    assert not any(isinstance(m.__self__, CsrfViewMiddleware) for m in light._view_middleware)
    assert any(isinstance(m.__self__, CsrfViewMiddleware) for m in ASGIHandler()._view_middleware)
