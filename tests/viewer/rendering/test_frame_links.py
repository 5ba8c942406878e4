"""Signed links to cached frames (viewer/rendering/links.py), through a real uvicorn.

Django checks access and audits when a study is opened and hands the page a grant; the
verifier in front of Django answers links to cached frames with nothing but the grant's
signature and age, the session cookie it was issued to and the user's access generation.
It must answer exactly like Django or leave the request to Django: the same image and
headers, every refusal, logout and revocation at once, and the audit rows as before. A
response it served carries `Server-Timing: frame-link…`; the tests use that to show which
side answered.
"""

from __future__ import annotations

import http.client
import json
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.test import Client

from core.models import AuditEvent
from tests.factories import PatientFactory, SeriesFactory, StudyFactory, store_dataset
from tests.viewer.dicom_data import ct_slice
from viewer.rendering import cache as render_cache
from viewer.rendering import links as frame_links

SAME_HEADERS = (
    "content-type",
    "content-length",
    "cache-control",
    "x-content-type-options",
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


class Yesterday(signing.TimestampSigner):
    """Signs as if it were a day ago: a grant past VIEWER_GRANT_SECONDS."""

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - 24 * 3600)


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
        fast="frame-link" in found.get("server-timing", ""),
    )


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def frame_url(study, n: int = 0, kind: str = "rendered") -> str:
    """A frame's URL through Django: DICOMweb rendered, or the viewer's 16-bit forms."""
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


def cached(study) -> None:
    """What the render worker does after ingest: every frame cached, the instance marked."""
    for series in study.series.all():
        for instance in series.instances.all():
            render_cache.build_for_instance(instance)


def links(server, study, cookie: str) -> list[str]:
    """The frame links the viewer builds from the study's manifest (the JPEG of each
    instance's first frame, in display order)."""
    answer = get(server, f"/viewer/studies/{study.study_instance_uid}/manifest.json", Cookie=cookie)
    assert answer.status == 200
    manifest = json.loads(answer.body)
    out = []
    for series in manifest["series"]:
        shared = series.get("shared", {})
        for instance in series["instances"]:
            key = instance.get("k") or shared.get("k")
            out.append(f"{manifest['frames']}/{key}/1.jpg" if key else "")
    return out


def vary(response) -> set[str]:
    return {name.strip() for name in response.headers.get("vary", "").split(",")}


def views_of(study) -> int:
    return AuditEvent.objects.filter(
        action=AuditEvent.Action.VIEW, object_type="study", object_id=str(study.pk)
    ).count()


@pytest.mark.parametrize("form", ["jpg", "u16"])
def test_a_cached_frame_comes_back_from_its_link_as_django_sends_it(
    server, county_doctor, ct_study, form
):
    cached(ct_study)
    cookie = session_cookie(county_doctor)
    link = links(server, ct_study, cookie)[0].replace("/1.jpg", f"/1.{form}")
    gzip = {"Accept_Encoding": "gzip"}
    fast = get(server, link, Cookie=cookie, **gzip)
    assert fast.status == 200 and fast.fast
    # The same frame from Django (an expired grant is re-checked and answered there).
    grant = link.split("/")[2]
    payload = signing.loads(grant, salt=frame_links.SALT)
    old = Yesterday(salt=frame_links.SALT).sign_object(payload)
    assert frame_links.grant_payload(old, max_age=frame_links.grant_seconds()) is None
    slow = get(server, link.replace(grant, old), Cookie=cookie, **gzip)
    assert slow.status == 200
    assert fast.body == slow.body
    for name in SAME_HEADERS:
        assert fast.headers.get(name) == slow.headers.get(name), name
    assert vary(fast) == vary(slow)
    assert "default-src 'self'" in fast.headers["content-security-policy"]
    assert views_of(ct_study) == 1  # the manifest's row; the window covers the rest


def test_a_frame_not_cached_yet_or_without_gzip_is_left_to_django(server, county_doctor, ct_study):
    cookie = session_cookie(county_doctor)
    cached(ct_study)
    link = links(server, ct_study, cookie)[0]
    render_cache.drop(
        *ct_study.series.first()
        .instances.order_by("instance_number")
        .values_list("pk", "sha256")[0]
    )
    uncached = get(server, link, Cookie=cookie)
    assert uncached.status == 200 and not uncached.fast
    assert uncached.headers["x-render-cache"] == "miss"
    assert get(server, link, Cookie=cookie).fast  # Django cached it
    plain = get(server, link.replace("/1.jpg", "/1.u16"), Cookie=cookie)  # no gzip accepted
    assert plain.status == 200 and not plain.fast and "content-encoding" not in plain.headers
    assert get(server, link.replace("/1.jpg", "/9.jpg"), Cookie=cookie).status == 400


def test_an_outsider_with_a_colleagues_link_gets_404_and_a_denied_row(
    server, county_doctor, outsider, ct_study
):
    cached(ct_study)
    insider = session_cookie(county_doctor)
    link = links(server, ct_study, insider)[0]
    assert get(server, link, Cookie=insider).fast
    refused = get(server, link, Cookie=session_cookie(outsider))
    assert refused.status == 404 and not refused.fast
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.DENIED, user=outsider, object_type="frame-link"
    ).exists()
    assert get(server, link).status == 302  # no session: Django's login redirect


def test_a_grant_opens_no_other_studys_frames(
    server, county_doctor, outsider, other_hospital, ct_study
):
    other_child = PatientFactory(name="王小红", home_hospital=other_hospital, mrn="O000001")
    other = StudyFactory(patient=other_child, hospital=other_hospital)
    series = SeriesFactory(study=other)
    store_dataset(ct_slice(other.study_instance_uid, series.series_instance_uid, 0), series)
    cached(ct_study)
    cached(other)
    insider = session_cookie(county_doctor)
    mine = links(server, ct_study, insider)[0]
    theirs = links(server, other, session_cookie(outsider))[0]
    grant, key = mine.split("/")[2], theirs.split("/")[3]
    forged = f"/frames/{grant}/{key}/1.jpg"
    refused = get(server, forged, Cookie=insider)
    assert refused.status == 404 and not refused.fast
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.DENIED, user=county_doctor, object_type="frame-link"
    ).exists()


def batch_link(links_: list[str], form: str) -> str:
    """The viewer's batch link for these frames (static/js/viewer/viewport.js loadBatch)."""
    grant = links_[0].split("/")[2]
    parts = ",".join(f"{link.split('/')[3]}_1" for link in links_)
    return f"/frames/{grant}/batch/{parts}.{form}"


def batch_parts(body: bytes) -> tuple[list[dict], bytes]:
    length = int.from_bytes(body[:4], "big")
    return json.loads(body[4 : 4 + length]), body[4 + length :]


@pytest.mark.parametrize(("form", "kind"), [("u16", "u16"), ("jpg", "jpeg")])
def test_a_series_batch_by_link_holds_what_djangos_batch_holds(
    server, county_doctor, ct_study, form, kind
):
    cached(ct_study)
    cookie = session_cookie(county_doctor)
    frames = links(server, ct_study, cookie)
    link = batch_link(frames, form)
    fast = get(server, link, Cookie=cookie)
    assert fast.status == 200 and fast.fast
    index, images = batch_parts(fast.body)
    assert [entry["k"] for entry in index] == [f.split("/")[3] for f in frames]
    # Django's answer to the same link (an expired grant) and to the viewer's older batch URL.
    grant = link.split("/")[2]
    old = Yesterday(salt=frame_links.SALT).sign_object(signing.loads(grant, salt=frame_links.SALT))
    slow = get(server, link.replace(grant, old), Cookie=cookie)
    assert slow.status == 200 and not slow.fast
    assert batch_parts(slow.body) == (index, images)
    series = ct_study.series.first()
    uids = series.instances.order_by("instance_number").values_list("sop_instance_uid", flat=True)
    by_uid = get(
        server,
        f"/viewer/studies/{ct_study.study_instance_uid}/series/{series.series_instance_uid}"
        f"/frames?kind={kind}&frames={','.join(f'{uid}:1' for uid in uids)}",
        Cookie=cookie,
    )
    old_index, old_images = batch_parts(by_uid.body)
    assert old_images == images
    assert [{k: v for k, v in e.items() if k != "uid"} for e in old_index] == [
        {k: v for k, v in e.items() if k != "k"} for e in index
    ]
    assert all(entry["length"] > 0 and not entry["problem"] for entry in index)


def test_a_batch_with_another_studys_key_is_refused_whole(
    server, county_doctor, outsider, other_hospital, ct_study
):
    other_child = PatientFactory(name="王小红", home_hospital=other_hospital, mrn="O000001")
    other = StudyFactory(patient=other_child, hospital=other_hospital)
    series = SeriesFactory(study=other)
    store_dataset(ct_slice(other.study_instance_uid, series.series_instance_uid, 0), series)
    cached(ct_study)
    cached(other)
    insider = session_cookie(county_doctor)
    mine = links(server, ct_study, insider)
    theirs = links(server, other, session_cookie(outsider))[0]
    grant = mine[0].split("/")[2]
    forged = batch_link([mine[0], f"/frames/{grant}/{theirs.split('/')[3]}/1.jpg"], "jpg")
    refused = get(server, forged, Cookie=insider)
    assert refused.status == 404 and not refused.fast
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.DENIED, user=county_doctor, object_type="frame-link"
    ).exists()
    assert get(server, batch_link(mine, "jpg"), Cookie=session_cookie(outsider)).status == 404


def test_a_logout_ends_the_sessions_links_at_once(server, county_doctor, ct_study):
    cached(ct_study)
    client = Client()
    client.force_login(county_doctor)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    link = links(server, ct_study, cookie)[0]
    assert get(server, link, Cookie=cookie).fast
    client.logout()
    page = get(server, link, Cookie=cookie)
    assert page.status == 302 and "/login/" in urlsplit(page.headers["location"]).path


def test_a_deactivated_or_repassworded_user_is_refused_at_once(
    server, county_doctor, alliance_admin, ct_study
):
    cached(ct_study)
    cookie = session_cookie(county_doctor)
    link = links(server, ct_study, cookie)[0]
    assert get(server, link, Cookie=cookie).fast
    county_doctor.is_active = False
    county_doctor.save(update_fields=["is_active"])
    refused = get(server, link, Cookie=cookie)
    assert refused.status == 302 and not refused.fast

    admin_cookie = session_cookie(alliance_admin)
    admin_link = links(server, ct_study, admin_cookie)[0]
    assert get(server, admin_link, Cookie=admin_cookie).fast
    alliance_admin.set_password("a completely new one 42")
    alliance_admin.save(update_fields=["password"])
    refused = get(server, admin_link, Cookie=admin_cookie)
    assert refused.status == 302 and not refused.fast


def test_a_tampered_grant_is_left_to_django_which_refuses_it(server, county_doctor, ct_study):
    cached(ct_study)
    cookie = session_cookie(county_doctor)
    link = links(server, ct_study, cookie)[0]
    grant = link.split("/")[2]
    tampered = link.replace(grant, grant[:-2] + ("AA" if not grant.endswith("AA") else "BB"))
    refused = get(server, tampered, Cookie=cookie)
    assert refused.status == 404 and not refused.fast


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


def test_ohifs_worker_scripts_alone_may_eval(server):
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


def test_the_viewer_page_preloads_its_first_frame_by_link(server, county_doctor, ct_study):
    cached(ct_study)
    cookie = session_cookie(county_doctor)
    page = get(server, f"/viewer/studies/{ct_study.study_instance_uid}/", Cookie=cookie)
    assert page.status == 200
    first = links(server, ct_study, cookie)[0]
    key = first.split("/")[3]
    assert f"/{key}/1.u16".encode() in page.body or f"/{key}/1.jpg".encode() in page.body
