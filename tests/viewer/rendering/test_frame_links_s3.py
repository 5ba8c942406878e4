"""Signed frame links with S3 storage, against a real S3-compatible server (s3rver, installed
by `make test`): a verified JPEG link is a redirect to a presigned URL, so the object store
carries the load; what a redirect cannot carry (16-bit frames with their headers, batches)
is answered by Django from the same storage."""

from __future__ import annotations

import http.client
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.factories import SeriesFactory, StudyFactory, store_dataset
from tests.processes import (
    Process,
    free_port,
    port_open,
    subprocess_env,
    uvicorn_server,
    wait_for,
)
from tests.viewer.dicom_data import ct_slice
from tests.viewer.rendering.test_frame_links import (
    batch_link,
    batch_parts,
    cached,
    get,
    links,
    session_cookie,
)

ROOT = Path(__file__).resolve().parents[3]
S3RVER = ROOT / "var" / "node" / "node_modules" / ".bin" / "s3rver"
# s3rver accepts only its fixed development credentials; nothing real is signed with them.
S3_ENV = {
    "S3_BUCKET": "frames",
    "S3_ACCESS_KEY_ID": "S3RVER",
    "S3_SECRET_ACCESS_KEY": "S3RVER",
    "S3_REGION": "us-east-1",
}


def s3_storages(endpoint: str) -> dict:
    return {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": S3_ENV["S3_BUCKET"],
                "endpoint_url": endpoint,
                "access_key": S3_ENV["S3_ACCESS_KEY_ID"],
                "secret_key": S3_ENV["S3_SECRET_ACCESS_KEY"],
                "region_name": S3_ENV["S3_REGION"],
                "default_acl": None,
                "file_overwrite": False,
                "querystring_auth": True,
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def s3_server(settings, media_root, tmp_path, transactional_db):
    """s3rver with an empty bucket, this process's storage pointed at it, and uvicorn with
    the same S3 settings."""
    from types import SimpleNamespace

    assert S3RVER.exists(), "run `make s3rver` (make test does)"
    s3_port, web_port = free_port(), free_port()
    s3 = Process(
        f"s3rver-{s3_port}",
        [
            str(S3RVER),
            "--directory",
            str(tmp_path / "s3"),
            "--port",
            str(s3_port),
            "--address",
            "127.0.0.1",
            "--configure-bucket",
            S3_ENV["S3_BUCKET"],
            "--silent",
        ],
        subprocess_env(),
        tmp_path,
    ).start()
    endpoint = f"http://127.0.0.1:{s3_port}"
    env = subprocess_env(
        MEDIA_ROOT=str(media_root),
        SITE_URL=f"http://127.0.0.1:{web_port}",
        S3_ENDPOINT_URL=endpoint,
        **S3_ENV,
    )
    web = uvicorn_server(web_port, env, tmp_path).start()
    try:
        wait_for(lambda: port_open(s3_port), 30, message=lambda: "s3rver\n" + s3.output())
        wait_for(lambda: port_open(web_port), 30, message=lambda: "uvicorn\n" + web.output())
        settings.STORAGES = s3_storages(endpoint)
        yield SimpleNamespace(url=f"http://127.0.0.1:{web_port}", port=web_port, s3=s3_port)
    finally:
        web.kill()
        s3.kill()


def follow(location: str) -> tuple[int, bytes]:
    target = urlsplit(location)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    conn.request("GET", f"{target.path}?{target.query}")
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def test_with_s3_a_verified_frame_link_redirects_to_the_object_store(
    s3_server, county_doctor, child
):
    study = StudyFactory(patient=child)
    series = SeriesFactory(study=study)
    for i in range(3):
        store_dataset(ct_slice(study.study_instance_uid, series.series_instance_uid, i), series)
    cached(study)
    cookie = session_cookie(county_doctor)
    frames = links(s3_server, study, cookie)
    assert all(frames)

    answer = get(s3_server, frames[0], Cookie=cookie)
    assert answer.status == 302 and answer.fast
    location = answer.headers["location"]
    assert urlsplit(location).port == s3_server.s3 and "Signature" in location
    status, body = follow(location)
    assert status == 200 and body[:2] == b"\xff\xd8"  # the cached JPEG, from s3rver
    # The same bytes as Django renders them for the DICOMweb URL.
    dicomweb = get(
        s3_server,
        f"/dicomweb/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"
        f"/instances/{series.instances.order_by('instance_number')[0].sop_instance_uid}"
        "/frames/1/rendered",
        Cookie=cookie,
        Accept="image/jpeg",
    )
    assert dicomweb.status == 200 and dicomweb.body == body

    u16 = get(
        s3_server, frames[0].replace("/1.jpg", "/1.u16"), Cookie=cookie, Accept_Encoding="gzip"
    )
    assert u16.status == 200 and not u16.fast and u16.headers["x-rows"] == "64"
    batch = get(s3_server, batch_link(frames, "u16"), Cookie=cookie)
    assert batch.status == 200 and not batch.fast
    index, _images = batch_parts(batch.body)
    assert [e["length"] > 0 and not e["problem"] for e in index] == [True] * 3


def test_with_s3_an_outsider_gets_no_redirect(s3_server, county_doctor, outsider, child):
    study = StudyFactory(patient=child)
    series = SeriesFactory(study=study)
    store_dataset(ct_slice(study.study_instance_uid, series.series_instance_uid, 0), series)
    cached(study)
    link = links(s3_server, study, session_cookie(county_doctor))[0]
    refused = get(s3_server, link, Cookie=session_cookie(outsider))
    assert refused.status == 404 and "location" not in refused.headers
