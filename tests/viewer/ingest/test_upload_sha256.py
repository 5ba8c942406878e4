"""Resuming an upload over plain http: browsers offer crypto.subtle only in secure
contexts (https, localhost, 127.0.0.0/8), so the page falls back to static/js/imaging/sha256.js.
Checked against crypto.subtle in Chromium, and end to end on a non-secure origin."""

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, browser_login
from tests.viewer.dicom_builders import make_dataset, make_file
from viewer.models import Instance

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COMPARE = """async () => {
  const { sha256Hex, Sha256 } = await import('/static/js/imaging/sha256.js');
  const hex = (buf) =>
    [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
  const out = [];
  let seed = 7;
  const random = (n) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) { seed = (seed * 1103515245 + 12345) >>> 0; b[i] = seed >>> 24; }
    return b;
  };
  const sizes = [0, 1, 3, 55, 56, 63, 64, 65, 119, 120, 1000, 4 * 1024 * 1024 + 13, 9 << 20];
  for (const n of sizes) {
    const bytes = random(n);
    const subtle = hex(await crypto.subtle.digest('SHA-256', bytes));
    const chunked = new Sha256();
    for (let at = 0; at < n; at += 1000003) chunked.update(bytes.subarray(at, at + 1000003));
    out.push([n, subtle, sha256Hex(bytes), chunked.hex()]);
  }
  out.push(['abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
            sha256Hex(new TextEncoder().encode('abc')), '']);
  return out;
}"""


def test_the_pure_js_sha256_matches_crypto_subtle(page, live_server):
    page.goto(f"{live_server.url}/login/")
    results = page.evaluate(COMPARE)
    for n, subtle, whole, chunked in results[:-1]:
        assert whole == subtle, n
        assert chunked == subtle, n
    _abc, expected, got, _ = results[-1]
    assert got == expected  # the FIPS 180-2 example


@pytest.fixture
def insecure_page(browser, settings):
    """Chromium reaching the test server as http://pedslink.test: not a secure context."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "pedslink.test"]
    other = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP pedslink.test 127.0.0.1"],
    )
    context = other.new_context(locale="zh-CN")
    context.set_default_timeout(15_000)
    yield context.new_page()
    other.close()


def test_over_plain_http_an_interrupted_upload_resumes_without_resending(
    insecure_page, live_server, county_doctor, password, child, tmp_path
):
    page = insecure_page

    class Site:
        url = live_server.url.replace("localhost", "pedslink.test")

    browser_login(page, Site, county_doctor, password)
    page.goto(f"{Site.url}/patients/{child.pk}/imaging/upload/")
    page.wait_for_selector("#uploader[data-ready='1']")
    assert page.evaluate("window.isSecureContext") is False
    assert page.evaluate("Boolean(window.crypto && window.crypto.subtle)") is False

    study = make_dataset().StudyInstanceUID
    folder = tmp_path / "CD"
    folder.mkdir()
    for n in range(3):
        (folder / f"IM{n}").write_bytes(make_file(study_uid=study, instance_number=n))
    # The link dropped after two files: only those reached the server.
    page.set_input_files("input[name=dicom-files]", [str(folder / "IM0"), str(folder / "IM1")])
    page.wait_for_function(
        "() => document.querySelector('[data-count=accepted]').textContent === '2'"
    )
    assert Instance.objects.count() == 2

    answers = []
    page.on("response", lambda r: answers.append(r) if "/imaging/files/" in r.url else None)
    page.reload()
    page.wait_for_selector("#uploader[data-ready='1']")
    page.set_input_files("input[name=dicom-folder]", str(folder))
    page.wait_for_selector("#summary:not([hidden])")
    assert page.locator("[data-count=already_stored]").inner_text() == "2"
    assert page.locator("[data-count=accepted]").inner_text() == "1"
    # Only the missing file travelled; the two held ones were never sent.
    sent = [r["name"] for answer in answers for r in answer.json()["results"]]
    assert sent == ["CD/IM2"]
    assert Instance.objects.count() == 3
