"""The guardian's story on a phone (390×844, touch) in Debian's Chromium."""

import re
import time

import pytest

from consult.portal.services import portal_share_create
from core.audit import SYSTEM
from core.sms import read_sms_file_outbox
from tests.factories import SeriesFactory, store_dataset
from tests.viewer.dicom_data import ct_slice

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINK = re.compile(r"(http://\S+/p/[A-Za-z0-9_-]{32})")
CODE = re.compile(r"(\d{6})")
PAGE_WEIGHT_LIMIT = 200 * 1024


@pytest.fixture
def sms_folder(settings, tmp_path):
    from pedslink.celery import app

    settings.SMS_BACKEND = "core.sms.FileSmsBackend"
    settings.SMS_FILE_PATH = str(tmp_path / "sms")
    settings.MEDIA_ROOT = tmp_path / "media"
    # Outbox rows are delivered as soon as they commit, as a worker would.
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield tmp_path / "sms"
    app.conf.task_always_eager = eager


def _messages(folder, to):  # noqa: ANN001, ANN202
    return [m["body"] for m in read_sms_file_outbox(folder) if m["to"] == to]


def test_guardian_opens_the_sms_link_and_reads_the_report_on_a_phone(
    phone_page, live_server, sms_folder, settings, signed_report, mother, child, county_doctor
):
    page = phone_page
    settings.SITE_URL = live_server.url
    study = signed_report.consultation.studies.first()
    for number in (1, 2):
        series = SeriesFactory(study=study, series_number=number)
        for i in range(3):
            store_dataset(ct_slice(study.study_instance_uid, series.series_instance_uid, i), series)
    portal_share_create(
        report=signed_report, guardians=[mother], user=county_doctor, context=SYSTEM
    )
    (sms,) = _messages(sms_folder, mother.mobile)
    link = LINK.search(sms).group(1)

    weights: dict[str, int] = {}

    def weigh(response) -> None:  # noqa: ANN001
        kind = response.request.resource_type
        if kind in ("document", "stylesheet", "script") and not 300 <= response.status < 400:
            weights[response.url] = len(response.body())

    page.goto(link)
    assert page.url == f"{live_server.url}/p/"  # the token is gone from the address bar
    page.fill("#birth_date", child.birth_date.isoformat())
    page.click("button[value=dob]")
    page.wait_for_selector("#code")
    code = CODE.search(_messages(sms_folder, mother.mobile)[-1]).group(1)
    page.fill("#code", code)
    page.on("response", weigh)
    page.click("button[value=code]")
    page.wait_for_url(f"{live_server.url}/p/report/")
    page.wait_for_load_state("load")

    assert child.first_name in page.inner_text("h1")
    assert "回结肠型肠套叠" in page.inner_text("main")
    assert page.locator(".shot img").count() == 2
    assert page.evaluate("document.querySelector('.shot img').naturalWidth") > 0
    assert sum(weights.values()) < PAGE_WEIGHT_LIMIT, weights
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways page

    # Swipe to the second image with a real touch gesture.
    page.locator("#strip").scroll_into_view_if_needed()
    box = page.locator("#strip").bounding_box()
    cdp = page.context.new_cdp_session(page)
    x0, y = box["x"] + box["width"] * 0.85, box["y"] + box["height"] / 2
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x0, "y": y}]})
    for step in range(1, 11):
        x = x0 - box["width"] * 0.07 * step
        cdp.send(
            "Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]}
        )
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_function("() => document.getElementById('count').textContent.startsWith('2')")
    assert page.evaluate("document.getElementById('strip').scrollLeft") > 100

    with page.expect_download() as download:
        page.click("a.button")
    path = download.value.path()
    with open(path, "rb") as fh:
        assert fh.read(4) == b"%PDF"

    # Chrome's "Slow 3G" profile: the words are readable within a few seconds.
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 2000,
            "downloadThroughput": 50_000,
            "uploadThroughput": 50_000,
        },
    )
    started = time.monotonic()
    page.reload(wait_until="domcontentloaded")
    page.wait_for_selector("text=回结肠型肠套叠")
    elapsed = time.monotonic() - started
    assert 2 <= elapsed < 12, elapsed  # at least one throttled round trip, then readable
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )

    page.click("text=English")
    page.wait_for_url(f"{live_server.url}/p/report/")
    assert "What the specialist found" in page.inner_text("main")
