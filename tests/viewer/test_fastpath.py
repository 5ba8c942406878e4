"""Cached images answered in front of Django (viewer/fastpath.py), through a real uvicorn.

The fast path must answer exactly like Django or not at all: the same image and headers,
and every refusal, logout, revocation and audit row as before. A response it served carries
`Server-Timing: fastpath…`; the tests use that to show which side answered.
"""

from __future__ import annotations

import http.client
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from consult.models import AuditEvent
from viewer.access import study_view_key
from viewer.services import integration_token_create, integration_token_revoke

SAME_HEADERS = (
    "content-type",
    "content-length",
    "cache-control",
    "x-render-cache",
    "vary",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "content-security-policy",
    "permissions-policy",
    "x-pixel-offset",
    "x-rescale-slope",
    "x-rescale-intercept",
    "x-rows",
    "x-columns",
    "content-encoding",
)


def get(server, path: str, **headers: str) -> SimpleNamespace:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", path, headers={k.replace("_", "-"): v for k, v in headers.items()})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    found = {k.lower(): v for k, v in response.getheaders()}
    return SimpleNamespace(
        status=response.status,
        body=body,
        headers=found,
        fast="fastpath" in found.get("server-timing", ""),
    )


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def frame_url(study, n: int = 0, kind: str = "rendered") -> str:
    series = study.series.first()
    inst = series.instances.order_by("instance_number")[n]
    if kind in ("png", "u16"):
        return (
            f"/viewer/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"
            f"/instances/{inst.sop_instance_uid}/frames/1/modality.{kind}"
        )
    return (
        f"/dicomweb/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"
        f"/instances/{inst.sop_instance_uid}/frames/1/rendered"
    )


def views_of(study) -> int:
    return AuditEvent.objects.filter(
        action=AuditEvent.Action.VIEW, object_type="study", object_id=str(study.pk)
    ).count()


@pytest.mark.parametrize("kind", ["rendered", "png", "u16"])
def test_a_cached_image_comes_back_the_same_from_the_fast_path(
    server, county_doctor, ct_study, kind
):
    cookie = session_cookie(county_doctor)
    url = frame_url(ct_study, kind=kind)
    gzip = {"Accept_Encoding": "gzip"}
    first = get(server, url, Cookie=cookie, **gzip)  # Django: renders, caches, audits
    second = get(server, url, Cookie=cookie, **gzip)
    assert first.status == second.status == 200
    assert not first.fast and first.headers["x-render-cache"] == "miss"
    assert second.fast
    assert second.body == first.body
    for name in SAME_HEADERS:
        expected = "hit" if name == "x-render-cache" else first.headers.get(name)
        assert second.headers.get(name) == expected, name
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert "default-src 'self'" in second.headers["content-security-policy"]
    assert "camera=()" in second.headers["permissions-policy"]
    assert views_of(ct_study) == 1


def test_an_image_not_in_the_cache_or_with_parameters_is_left_to_django(
    server, county_doctor, ct_study
):
    cookie = session_cookie(county_doctor)
    get(server, frame_url(ct_study, 0), Cookie=cookie)
    assert get(server, frame_url(ct_study, 0), Cookie=cookie).fast
    uncached = get(server, frame_url(ct_study, 1), Cookie=cookie)
    assert uncached.status == 200 and not uncached.fast
    assert uncached.headers["x-render-cache"] == "miss"
    windowed = get(server, frame_url(ct_study, 0) + "?window=40,400", Cookie=cookie)
    assert windowed.status == 200 and not windowed.fast
    u16 = frame_url(ct_study, 0, kind="u16")
    get(server, u16, Cookie=cookie, Accept_Encoding="gzip")
    assert get(server, u16, Cookie=cookie, Accept_Encoding="gzip").fast
    plain = get(server, u16, Cookie=cookie)  # no gzip accepted: Django inflates it
    assert plain.status == 200 and not plain.fast and "content-encoding" not in plain.headers
    bad_frame = get(
        server, frame_url(ct_study, 0).replace("/frames/1/", "/frames/9/"), Cookie=cookie
    )
    assert bad_frame.status == 400


def test_an_outsider_gets_404_and_a_denied_row_even_after_a_colleague_warmed_the_cache(
    server, county_doctor, outsider, ct_study
):
    insider = session_cookie(county_doctor)
    url = frame_url(ct_study)
    get(server, url, Cookie=insider)
    assert get(server, url, Cookie=insider).fast
    refused = get(server, url, Cookie=session_cookie(outsider))
    assert refused.status == 404 and not refused.fast
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.DENIED, user=outsider, object_type="instance"
    ).exists()


def test_a_logged_out_session_cannot_fetch_images(server, county_doctor, ct_study):
    client = Client()
    client.force_login(county_doctor)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    url = frame_url(ct_study)
    get(server, url, Cookie=cookie)
    assert get(server, url, Cookie=cookie).fast
    client.logout()
    assert get(server, url, Cookie=cookie).status == 401
    page = get(server, frame_url(ct_study, kind="u16"), Cookie=cookie)
    assert page.status == 302 and "/login/" in urlsplit(page.headers["location"]).path


def test_a_deactivated_or_repassworded_user_is_refused_at_once(
    server, county_doctor, alliance_admin, ct_study
):
    url = frame_url(ct_study)
    cookie = session_cookie(county_doctor)
    get(server, url, Cookie=cookie)
    assert get(server, url, Cookie=cookie).fast
    county_doctor.is_active = False
    county_doctor.save(update_fields=["is_active"])
    assert get(server, url, Cookie=cookie).status == 401

    admin_cookie = session_cookie(alliance_admin)
    get(server, url, Cookie=admin_cookie)
    assert get(server, url, Cookie=admin_cookie).fast
    alliance_admin.set_password("a completely new one 42")
    alliance_admin.save(update_fields=["password"])
    assert get(server, url, Cookie=admin_cookie).status == 401


def test_a_revoked_token_is_refused_at_once(server, county_hospital, alliance_admin, ct_study):
    token, secret = integration_token_create(
        hospital=county_hospital, name="PACS", created_by=alliance_admin
    )
    url = frame_url(ct_study)
    bearer = f"Bearer {secret}"
    assert get(server, url, Authorization=bearer).status == 200
    assert get(server, url, Authorization=bearer).fast
    integration_token_revoke(token=token, user=alliance_admin)
    refused = get(server, url, Authorization=bearer)
    assert refused.status == 401
    assert refused.headers["www-authenticate"].startswith("Bearer")


def test_a_bearer_header_wins_over_the_session_as_in_django(
    server, county_doctor, county_hospital, alliance_admin, ct_study
):
    cookie = session_cookie(county_doctor)
    url = frame_url(ct_study)
    get(server, url, Cookie=cookie)
    assert get(server, url, Cookie=cookie).fast
    refused = get(server, url, Cookie=cookie, Authorization="Bearer pl_not-a-token")
    assert refused.status == 401


def test_a_new_audit_window_writes_a_new_view_row(server, county_doctor, ct_study):
    cookie = session_cookie(county_doctor)
    url = frame_url(ct_study)
    get(server, url, Cookie=cookie)
    for _ in range(3):
        assert get(server, url, Cookie=cookie).fast
    assert views_of(ct_study) == 1
    cache.delete(study_view_key(county_doctor.pk, ct_study.pk))  # the window has passed
    again = get(server, url, Cookie=cookie)
    assert again.status == 200 and not again.fast
    assert views_of(ct_study) == 2
    assert get(server, url, Cookie=cookie).fast
    assert views_of(ct_study) == 2


def test_static_files_are_served_with_validators_and_security_headers(server):
    from django.conf import settings

    path = "/static/js/viewer/main.js"
    response = get(server, path)
    assert response.status == 200
    assert response.body == (settings.BASE_DIR / "static/js/viewer/main.js").read_bytes()
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "camera=()" in response.headers["permissions-policy"]
    again = get(server, path, If_None_Match=response.headers["etag"])
    assert again.status == 304 and again.body == b""
    assert get(server, "/static/js/viewer/no-such-file.js").status == 404


def test_ohifs_worker_scripts_alone_may_eval_in_front_of_django_too(server):
    from viewer.ohif import ohif_root

    bundles = sorted(ohif_root().glob("*.bundle.*.js"))
    if not bundles:
        pytest.skip("OHIF not installed: run `make ohif`")
    path = "/static/ohif/" + bundles[0].name
    worker = get(server, path, Sec_Fetch_Dest="worker")
    script = get(server, path, Sec_Fetch_Dest="script")
    assert worker.status == script.status == 200
    assert "'unsafe-eval'" in worker.headers["content-security-policy"]
    assert "'wasm-unsafe-eval'" in script.headers["content-security-policy"]
    assert "'unsafe-eval'" not in script.headers["content-security-policy"]
    assert "Sec-Fetch-Dest" in worker.headers["vary"]


def test_a_host_django_does_not_serve_is_refused_as_before(server, county_doctor, ct_study):
    cookie = session_cookie(county_doctor)
    url = frame_url(ct_study)
    get(server, url, Cookie=cookie)
    assert get(server, url, Cookie=cookie).fast
    refused = get(server, url, Cookie=cookie, Host="pedslink.evil.example")
    assert refused.status == 400 and not refused.fast


def batch_url(study, instances, frame: int = 1) -> str:
    series = study.series.first()
    frames = ",".join(f"{i.sop_instance_uid}:{frame}" for i in instances)
    return (
        f"/viewer/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"
        f"/frames?kind=u16&frames={frames}"
    )


def test_a_batch_of_cached_16bit_frames_comes_back_the_same_from_the_fast_path(
    server, county_doctor, ct_study
):
    cookie = session_cookie(county_doctor)
    instances = list(ct_study.series.first().instances.order_by("instance_number"))
    url = batch_url(ct_study, instances)
    first = get(server, url, Cookie=cookie)  # Django: renders, caches, audits
    second = get(server, url, Cookie=cookie)
    assert first.status == second.status == 200
    assert not first.fast and second.fast
    assert second.body == first.body
    for name in ("content-type", "content-length", "cache-control", "x-frame-options"):
        assert second.headers.get(name) == first.headers.get(name), name
    assert "content-encoding" not in second.headers
    # Each part is the very gzip member modality.u16 sends.
    one = get(server, frame_url(ct_study, 0, kind="u16"), Cookie=cookie, Accept_Encoding="gzip")
    length = int.from_bytes(second.body[:4], "big")
    assert one.body in second.body[4 + length :]
    assert views_of(ct_study) == 1
    # A frame that is not there: Django answers (and names the problem).
    more = get(server, batch_url(ct_study, instances, frame=2), Cookie=cookie)
    assert more.status == 200 and not more.fast


def test_an_outsider_gets_404_and_a_denied_row_for_a_warmed_batch(
    server, county_doctor, outsider, ct_study
):
    instances = list(ct_study.series.first().instances.all())
    url = batch_url(ct_study, instances)
    insider = session_cookie(county_doctor)
    get(server, url, Cookie=insider)
    assert get(server, url, Cookie=insider).fast
    refused = get(server, url, Cookie=session_cookie(outsider))
    assert refused.status == 404 and not refused.fast
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.DENIED, user=outsider, object_type="series"
    ).exists()
    assert get(server, url).status == 302  # no session: Django's login redirect
