"""Content-Security-Policy, Permissions-Policy and Referrer-Policy on every page (README,
"Security headers"): no inline script runs without the page's nonce, OHIF has its own policy,
and the pages people use raise no policy violation in Chromium."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
from django.test import Client
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from tests.browser import browser_login, csp_violations, watch_csp
from tests.consult import conftest as consult_fixtures
from tests.factories import PASSWORD, ReferralFactory, SeriesFactory, StudyFactory, store_dataset
from tests.portal import conftest as portal_fixtures
from tests.portal.conftest import post, sms_code
from tests.viewer.dicom_data import ct_slice
from viewer.ohif import ohif_root

NONCE = re.compile(r"'nonce-([^']+)'")

# The consultation and portal fixtures, for the pages of both.
draft, on_call_specialist = consult_fixtures.draft, consult_fixtures.on_call_specialist
assigned, in_review = consult_fixtures.assigned, consult_fixtures.in_review
mother, signed_report = portal_fixtures.mother, portal_fixtures.signed_report
share_link, _fresh_limits = portal_fixtures.share_link, portal_fixtures._fresh_limits


@pytest.fixture(autouse=True)
def _stored_files(media_root):
    return media_root


@pytest.fixture
def study(child):
    """Three CT slices of the county child (the viewer page reads the first one early)."""
    study = StudyFactory(patient=child, description="CT ABDOMEN")
    series = SeriesFactory(study=study, series_number=1)
    for i in range(3):
        store_dataset(ct_slice(study.study_instance_uid, series.series_instance_uid, i), series)
    return study


class Markup(HTMLParser):
    """What a Content-Security-Policy without 'unsafe-inline' would block in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts: list[dict] = []
        self.blocked: list[str] = []
        self._in_script: dict | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on") or name == "style":
                self.blocked.append(f"<{tag} {name}=…>")
            if name in ("href", "src", "action") and (value or "").startswith("javascript:"):
                self.blocked.append(f"<{tag} {name}={value}>")
        if tag == "style":
            self.blocked.append("<style> block")
        if tag == "script" and "src" not in attrs and attrs.get("type") != "application/json":
            self._in_script = attrs

    def handle_data(self, data: str) -> None:
        if self._in_script is not None and data.strip():
            self.inline_scripts.append(self._in_script)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None


def policy(response) -> dict[str, list[str]]:  # noqa: ANN001
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def assert_protected(response, referrer: str = "same-origin") -> Markup:  # noqa: ANN001
    """The three headers, and every inline script carries the header's nonce."""
    csp = policy(response)
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "'unsafe-eval'" not in csp["script-src"]
    assert csp["object-src"] == ["'none'"] and csp["frame-ancestors"] == ["'none'"]
    assert "camera=()" in response["Permissions-Policy"]
    assert "geolocation=()" in response["Permissions-Policy"]
    assert response["Referrer-Policy"] == referrer
    markup = Markup()
    markup.feed(response.content.decode())
    assert markup.blocked == []
    nonces = NONCE.findall(response["Content-Security-Policy"])
    for attrs in markup.inline_scripts:
        assert nonces and attrs.get("nonce") == nonces[0]
    return markup


# The main pages of each role: (user fixture or None, url built from the fixtures, status).
PAGES = [
    (None, lambda f: "/login/", 200),
    (None, lambda f: "/no-such-page/", 404),
    ("county_doctor", lambda f: "/", 200),
    ("county_doctor", lambda f: "/consultations/", 200),
    ("county_doctor", lambda f: "/consultations/new/", 200),
    ("county_doctor", lambda f: f"/consultations/{f.case.pk}/", 200),
    ("county_doctor", lambda f: f"/patients/{f.child.pk}/", 200),
    ("county_doctor", lambda f: f"/patients/{f.child.pk}/imaging/upload/", 200),
    ("county_doctor", lambda f: f"/viewer/studies/{f.study.study_instance_uid}/", 200),
    ("county_doctor", lambda f: "/referrals/", 200),
    ("county_doctor", lambda f: f"/referrals/{f.referral.pk}/", 200),
    ("county_doctor", lambda f: "/no-such-page/", 404),
    ("specialist", lambda f: "/", 200),
    ("specialist", lambda f: "/worklist/", 200),
    ("specialist", lambda f: f"/consultations/{f.case.pk}/", 200),
    ("coordinator", lambda f: "/", 200),
    ("coordinator", lambda f: "/coordinator/dashboard/", 200),
    ("alliance_admin", lambda f: "/", 200),
    ("alliance_admin", lambda f: "/directory/hospitals/", 200),
    ("alliance_admin", lambda f: "/directory/hospitals/new/", 200),
    ("alliance_admin", lambda f: "/directory/users/", 200),
    ("alliance_admin", lambda f: "/audit/", 200),
    ("alliance_admin", lambda f: "/imaging/tokens/", 200),
    ("alliance_admin", lambda f: f"/viewer/studies/{f.study.study_instance_uid}/", 200),
]


@pytest.fixture
def cast(request, child, in_review, study, county_doctor):  # noqa: ANN001
    in_review.studies.add(study)
    referral = ReferralFactory(patient=child, source_doctor=county_doctor)
    return SimpleNamespace(child=child, case=in_review, study=study, referral=referral)


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "url", "status"), PAGES)
def test_every_page_has_a_policy_and_its_inline_scripts_the_nonce(request, cast, who, url, status):
    client = Client()
    if who:
        client.force_login(request.getfixturevalue(who))
    response = client.get(url(cast))
    assert response.status_code == status
    assert_protected(response)


@pytest.mark.django_db
def test_the_viewer_reads_its_first_image_early_from_a_script_file(login, county_doctor, study):
    response = login(county_doctor).get(f"/viewer/studies/{study.study_instance_uid}/")
    markup = assert_protected(response)
    assert len(markup.inline_scripts) == 1  # the translation catalog, with the nonce
    html = response.content.decode()
    # The early read of the first image: a script file ahead of the style sheets that does not
    # wait for them, reading the preloads marked for it.
    early = html.index('<script src="/static/js/viewer/early-frames.js" async')
    assert early < html.index('rel="stylesheet"')
    assert html.index("data-early-frame") < early


@pytest.mark.django_db
def test_each_page_gets_its_own_nonce(login, county_doctor):
    client = login(county_doctor)
    first, second = client.get("/"), client.get("/")
    assert NONCE.findall(first["Content-Security-Policy"]) != NONCE.findall(
        second["Content-Security-Policy"]
    )


@pytest.mark.django_db
def test_the_directory_forms_cancel_is_a_link_not_a_script(login, alliance_admin, county_hospital):
    client = login(alliance_admin)
    cancel = re.compile(r'<div class="actions">.*?<a href="([^"]*)"', re.DOTALL)
    page = client.get("/directory/hospitals/new/").content.decode()
    assert cancel.search(page).group(1) == "/directory/hospitals/"
    page = client.get(f"/directory/hospitals/{county_hospital.pk}/edit/").content.decode()
    assert cancel.search(page).group(1) == f"/directory/hospitals/{county_hospital.pk}/"


@pytest.mark.django_db
def test_portal_pages_keep_sending_no_referrer_under_the_policy(client, share_link, mother, child):
    share, token = share_link
    assert_protected(client.get(f"/p/{token}"), referrer="no-referrer")
    assert_protected(client.get("/p/"), referrer="no-referrer")  # the birth date
    post(client, {"action": "dob", "birth_date": child.birth_date.isoformat()})
    assert_protected(client.get("/p/"), referrer="no-referrer")  # the code
    post(client, {"action": "code", "code": sms_code(mother.mobile)})
    report = client.get("/p/report/")
    assert report.status_code == 200
    assert_protected(report, referrer="no-referrer")
    assert_protected(client.get("/p/no-such-page"), referrer="no-referrer")


@pytest.mark.django_db
def test_the_api_docs_load_swagger_without_an_inline_script(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    csp = policy(response)
    assert "'unsafe-inline'" not in csp["script-src"]
    markup = Markup()
    markup.feed(response.content.decode())
    assert markup.inline_scripts == []
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and b"SwaggerUIBundle" in script.content


ohif_installed = pytest.mark.skipif(
    not (ohif_root() / "index.html").exists(), reason="OHIF not installed: run `make ohif`"
)


@ohif_installed
@pytest.mark.django_db
def test_ohif_has_its_own_policy_and_its_inline_scripts_the_nonce(login, county_doctor):
    response = login(county_doctor).get("/ohif/viewer")
    assert response.status_code == 200
    csp = policy(response)
    assert "'unsafe-inline'" not in csp["script-src"]
    assert "'wasm-unsafe-eval'" in csp["script-src"]
    assert csp["worker-src"] == ["'self'"]  # its decoders are worker files of its own
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    markup = Markup()
    markup.feed(response.content.decode())
    (nonce,) = NONCE.findall(response["Content-Security-Policy"])
    assert len(markup.inline_scripts) == 2
    assert all(attrs.get("nonce") == nonce for attrs in markup.inline_scripts)
    # The pages of PedsLink itself do not get OHIF's allowances.
    assert "'wasm-unsafe-eval'" not in policy(login(county_doctor).get("/"))["script-src"]


@ohif_installed
@pytest.mark.django_db
def test_only_ohifs_worker_scripts_may_eval(client):
    bundle = "/static/ohif/" + next(ohif_root().glob("*.bundle.*.js")).name
    worker = client.get(bundle, HTTP_SEC_FETCH_DEST="worker")
    script = client.get(bundle, HTTP_SEC_FETCH_DEST="script")
    assert worker.status_code == script.status_code == 200
    assert "'unsafe-eval'" in policy(worker)["script-src"]
    assert "'unsafe-eval'" not in policy(script)["script-src"]
    assert "Sec-Fetch-Dest" in worker["Vary"]
    ours = client.get("/static/js/viewer/inflate-worker.js", HTTP_SEC_FETCH_DEST="worker")
    assert ours.status_code == 200
    assert policy(ours)["script-src"] == ["'self'"]
    assert "camera=()" in ours["Permissions-Policy"]


# --- in Chromium, served as in production (uvicorn: static files and cached images too) -----


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_login_worklist_case_and_viewer_run_without_a_policy_violation(
    page, server, specialist, in_review, study
):
    in_review.studies.add(study)
    console = watch_csp(page)
    browser_login(page, server, specialist, PASSWORD)
    page.goto(f"{server.url}/worklist/")
    page.wait_for_function("() => document.documentElement.dataset.live === 'on'")  # websocket
    page.wait_for_selector(f"tr[data-case='{in_review.pk}']")
    page.goto(f"{server.url}/consultations/{in_review.pk}/")
    page.wait_for_function("() => document.documentElement.dataset.live === 'on'")
    page.goto(f"{server.url}/viewer/studies/{study.study_instance_uid}/")
    page.wait_for_selector("#vp-main[data-drawn='1']")
    page.wait_for_selector("#vp-main[data-loaded='all']")  # the batches, inflated by workers
    # The early read of the first image ran (early-frames.js); the viewer took its frame.
    assert page.evaluate("window.__viewerEarlyFrames") == {}
    violations = csp_violations(page, console)
    assert not violations, "\n".join(violations)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_portal_report_on_a_phone_runs_without_a_policy_violation(
    phone_page, server, share_link, mother, child
):
    page = phone_page
    share, token = share_link
    console = watch_csp(page)
    page.goto(f"{server.url}/p/{token}")
    page.fill("#birth_date", child.birth_date.isoformat())
    page.click("button[value=dob]")
    page.wait_for_selector("#code")
    page.fill("#code", sms_code(mother.mobile))
    page.click("button[value=code]")
    page.wait_for_url(f"{server.url}/p/report/")
    page.wait_for_load_state("load")
    assert "回结肠型肠套叠" in page.inner_text("main")
    violations = csp_violations(page, console)
    assert not violations, "\n".join(violations)


@ohif_installed
@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_ohif_draws_and_decodes_without_a_policy_violation(page, server, county_doctor, study):
    """OHIF decodes JPEG-LS and JPEG 2000 in its workers (WebAssembly, and `new Function` for
    JPEG-LS): allowed there by the workers' own policy, never on OHIF's page."""
    for number, name in ((2, "MR_small_jpeg_ls_lossless.dcm"), (3, "MR_small_jp2klossless.dcm")):
        series = SeriesFactory(study=study, series_number=number, modality="MR")
        ds = dcmread(get_testdata_file(name))
        ds.StudyInstanceUID = study.study_instance_uid
        ds.SeriesInstanceUID = series.series_instance_uid
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        store_dataset(ds, series)
    console = watch_csp(page)
    failures: list[str] = []
    page.on(
        "console",
        lambda m: (
            failures.append(m.text)
            if "decode" in m.text.lower() and m.type in ("error", "warning")
            else None
        ),
    )
    browser_login(page, server, county_doctor, PASSWORD)
    page.goto(f"{server.url}/ohif/viewer?StudyInstanceUIDs={study.study_instance_uid}")
    page.locator(".cornerstone-viewport-element, [data-viewport-uid]").first.wait_for(
        timeout=60_000
    )
    # Each series' thumbnail, decoded in OHIF's workers, is drawn.
    thumbnails = "[data-cy='study-browser-thumbnail'] img[src^='data:image']"
    page.wait_for_function(
        f'() => document.querySelectorAll("{thumbnails}").length === 3', timeout=60_000
    )
    violations = csp_violations(page, console)
    assert not violations, "\n".join(violations)
    assert not failures, "\n".join(failures)
