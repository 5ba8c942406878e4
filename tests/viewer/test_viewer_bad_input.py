"""What the viewer shows for the issue's bad input: all that can be shown, and plain reasons."""

import re

import pytest

from tests.browser import browser_login
from tests.factories import PASSWORD, SeriesFactory, StudyFactory, store_dataset
from tests.viewer.dicom_data import ct_slice, rgb_photo, us_multiframe
from tests.viewer.test_viewer_browser import to_client

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def messy_study(child):
    study = StudyFactory(patient=child, description="MESSY")
    uid = study.study_instance_uid
    mixed = SeriesFactory(study=study, series_number=1, description="MIXED")
    store_dataset(ct_slice(uid, mixed.series_instance_uid, 0, 64), mixed)
    store_dataset(ct_slice(uid, mixed.series_instance_uid, 1, 96), mixed)
    broken = ct_slice(uid, mixed.series_instance_uid, 2, 64)
    broken.PixelData = broken.PixelData[:50]
    store_dataset(broken, mixed)
    nospacing = SeriesFactory(study=study, series_number=2, description="NOSPACING")
    store_dataset(ct_slice(uid, nospacing.series_instance_uid, 0, 64, spacing=None), nospacing)
    photo = SeriesFactory(study=study, series_number=3, modality="OT", description="PHOTO")
    store_dataset(rgb_photo(uid, photo.series_instance_uid), photo, is_photo_of_film=True)
    SeriesFactory(study=study, series_number=4, description="EMPTY")
    us = SeriesFactory(study=study, series_number=5, modality="US", description="US1")
    store_dataset(us_multiframe(uid, us.series_instance_uid, frames=1), us)
    big = SeriesFactory(study=study, series_number=6, description="BIG")
    store_dataset(ct_slice(uid, big.series_instance_uid, 0, 2100), big)
    return study


def open_series(page, n):
    page.locator(".series-thumb").nth(n).click()


def overlay(page, corner):
    return page.locator(f"#vp-main [data-ov={corner}]").inner_text()


def test_each_bad_input_shows_what_it_can(page, live_server, alliance_admin, messy_study):
    browser_login(page, live_server, alliance_admin, PASSWORD)
    page.goto(f"{live_server.url}/viewer/studies/{messy_study.study_instance_uid}/")
    page.wait_for_selector("#vp-main[data-loaded='all']")
    message = page.locator("#vp-main [data-ov=msg]")

    # Mixed sizes: each image is drawn in its own size; the damaged one says why.
    assert page.evaluate("window.__viewer.main.drawn.w") == 64
    page.keyboard.press("ArrowDown")
    page.wait_for_function(
        "() => window.__viewer.main.drawn && window.__viewer.main.drawn.w === 96"
    )
    page.keyboard.press("ArrowDown")
    assert message.is_visible()
    assert re.search(r"damaged|损坏", message.inner_text())

    # No Pixel Spacing: a length is in pixels.
    open_series(page, 1)
    page.wait_for_selector("#vp-main[data-loaded='all']")
    page.keyboard.press("l")
    a = [to_client(page, 10, 10), to_client(page, 40, 10)]
    page.mouse.move(*a[0])
    page.mouse.down()
    page.mouse.move(*a[1], steps=4)
    page.mouse.up()
    value = page.locator("#measurement-list .measurement .value").first.inner_text()
    assert re.search(r"\d+ (px|像素)", value) and "mm" not in value

    # A photo of film: drawn in colour and labelled.
    open_series(page, 2)
    page.wait_for_selector("#vp-main[data-loaded='all']")
    assert re.search(r"not of diagnostic quality|非诊断质量", overlay(page, "tl"))
    assert (
        page.evaluate("window.__viewer.main.drawn.kind") == "m16"
        or page.evaluate("window.__viewer.main.drawn.kind") == "img"
    )

    # An empty series says so, in the strip and in the viewport.
    assert re.search(r"No images|没有图像", page.locator(".series-thumb").nth(3).inner_text())
    open_series(page, 3)
    assert re.search(r"no images|没有图像", message.inner_text())

    # A single-frame ultrasound is simply shown.
    open_series(page, 4)
    page.wait_for_selector("#vp-main[data-loaded='all']")
    assert "1 / 1" in overlay(page, "tl")

    # A very large image comes reduced from the server and says so.
    open_series(page, 5)
    page.wait_for_selector("#vp-main[data-loaded='all']", timeout=60_000)
    assert re.search(r"shown reduced|已缩小显示", overlay(page, "tl"))
    assert page.evaluate("window.__viewer.main.drawn.w") == 2100  # measured in full-size pixels
