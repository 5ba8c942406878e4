"""Links PedsLink gives out (DICOMweb RetrieveURL, BulkDataURI) point at SITE_URL, or at the
host a trusted proxy forwarded, never at a bare Host header (a proxy that dropped the port)."""

import pytest

from tests.viewer.dicom_builders import make_dataset, to_bytes
from tests.viewer.ingest.test_ingest_batching import stow_body

SITE = "http://127.0.0.1:18123"
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE
    settings.ALLOWED_HOSTS = ["127.0.0.1", "pedslink.example.org"]


def stow(client, token: str, ds, **headers):  # noqa: ANN001, ANN003, ANN201
    body, ctype = stow_body([to_bytes(ds)])
    return client.post(
        "/dicomweb/studies",
        data=body,
        content_type=ctype,
        headers={"Authorization": f"Bearer {token}", "Host": "127.0.0.1", **headers},
    )


def test_stow_retrieve_urls_use_site_url_when_the_host_header_lost_its_port(
    client, county_token, child
):
    ds = make_dataset()
    response = stow(client, county_token, ds)
    assert response.status_code == 200
    body = response.json()
    assert body["00081190"]["Value"] == [f"{SITE}/dicomweb/studies/{ds.StudyInstanceUID}"]
    [item] = body["00081199"]["Value"]
    assert item["00081190"]["Value"][0] == (
        f"{SITE}/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )


def test_qido_and_metadata_links_use_site_url_when_the_host_header_lost_its_port(
    client, county_token, child
):
    ds = make_dataset()
    assert stow(client, county_token, ds).status_code == 200
    auth = {"Authorization": f"Bearer {county_token}", "Host": "127.0.0.1"}
    [found] = client.get("/dicomweb/studies", headers=auth).json()
    assert found["00081190"]["Value"] == [f"{SITE}/dicomweb/studies/{ds.StudyInstanceUID}"]
    [meta] = client.get(f"/dicomweb/studies/{ds.StudyInstanceUID}/metadata", headers=auth).json()
    assert meta["7FE00010"]["BulkDataURI"].startswith(
        f"{SITE}/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}/frames/"
    )


def test_a_forwarded_host_counts_only_from_a_trusted_proxy(client, county_token, child, settings):
    forwarded = {"X-Forwarded-Host": "pedslink.example.org", "X-Forwarded-Proto": "https"}
    ds = make_dataset()
    assert (
        stow(client, county_token, ds, **forwarded)
        .json()["00081190"]["Value"][0]
        .startswith(f"{SITE}/")
    )
    settings.TRUSTED_PROXIES = ["127.0.0.1"]  # the test client's peer address
    ds = make_dataset()
    url = stow(client, county_token, ds, **forwarded).json()["00081190"]["Value"][0]
    assert url == f"https://pedslink.example.org/dicomweb/studies/{ds.StudyInstanceUID}"
