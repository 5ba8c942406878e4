"""OHIF Viewer 3 served at /ohif/ against PedsLink's DICOMweb: a client we did not write."""

import io

import pytest
from django.urls import Resolver404, resolve
from PIL import Image

from tests.browser import browser_login
from tests.factories import PASSWORD, SeriesFactory, StudyFactory, store_dataset
from tests.viewer.dicom_data import ct_slice
from viewer.ohif import ohif_root

installed = pytest.mark.skipif(
    not (ohif_root() / "index.html").exists(), reason="OHIF not installed: run `make ohif`"
)


def has_qido_and_wado() -> bool:
    try:
        resolve("/dicomweb/studies")
        resolve("/dicomweb/studies/1.2/series/1.3/metadata")
    except Resolver404:
        return False
    return True


@pytest.mark.django_db
def test_config_points_ohif_at_pedslink_dicomweb(login, county_doctor, settings):
    if not (ohif_root() / "app-config.js").exists():
        pytest.skip("OHIF not installed: run `make ohif`")
    settings.SITE_URL = "http://127.0.0.1:18123"  # not the request's Host (README, SITE_URL)
    response = login(county_doctor).get("/ohif/app-config.js")
    body = response.content.decode()
    assert "window.config.routerBasename = '/ohif';" in body
    assert '"qidoRoot": "http://127.0.0.1:18123/dicomweb"' in body


@pytest.mark.django_db
def test_ohif_needs_a_login(client):
    response = client.get("/ohif/viewer")
    assert response.status_code == 302


@installed
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_ohif_boots_and_queries_pedslink_with_the_session(
    page, live_server, county_doctor, settings
):
    settings.SITE_URL = live_server.url
    browser_login(page, live_server, county_doctor, PASSWORD)
    with page.expect_request(lambda r: "/dicomweb/studies" in r.url, timeout=60_000) as qido:
        page.goto(f"{live_server.url}/ohif/")
    assert qido.value.url.startswith(f"{live_server.url}/dicomweb/studies")


@installed
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_ohif_loads_a_pedslink_study_and_draws_an_image(
    page, live_server, county_doctor, child, settings
):
    settings.SITE_URL = live_server.url
    if not has_qido_and_wado():
        pytest.skip("needs QIDO-RS and WADO-RS (imaging branch); runs once that is merged")
    study = StudyFactory(patient=child)
    series = SeriesFactory(study=study)
    for i in range(3):
        store_dataset(
            ct_slice(study.study_instance_uid, series.series_instance_uid, i, 128), series
        )
    browser_login(page, live_server, county_doctor, PASSWORD)
    page.goto(f"{live_server.url}/ohif/viewer?StudyInstanceUIDs={study.study_instance_uid}")
    viewport = page.locator(".cornerstone-viewport-element, [data-viewport-uid]").first
    viewport.wait_for(timeout=60_000)
    # The disc in the middle of the slice is drawn: the centre is brighter than the corner.
    for _ in range(60):
        shot = Image.open(io.BytesIO(viewport.screenshot())).convert("L")
        w, h = shot.size
        if shot.getpixel((w // 2, h // 2)) > shot.getpixel((5, h - 5)) + 40:
            break
        page.wait_for_timeout(500)
    else:
        pytest.fail("OHIF drew no image")
