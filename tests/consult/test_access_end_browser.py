"""In Chromium: an open page's live socket closed by an access change reconnects by itself
(and is checked again there), as js/shared/live.js promises."""

import pytest

from consult.services import user_save
from core.audit import SYSTEM
from tests.browser import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WATCH_LIVE = """() => {
  window.liveSeen = [];
  new MutationObserver(() => window.liveSeen.push(document.documentElement.dataset.live))
    .observe(document.documentElement, {attributes: true, attributeFilter: ["data-live"]});
}"""


def test_an_open_page_reconnects_after_its_user_moved_to_another_hospital(
    page, asgi_server, county_doctor, alliance_admin, other_hospital, password
):
    browser_login(page, asgi_server, county_doctor, password)
    page.goto(f"{asgi_server.url}/")
    page.wait_for_function("() => document.documentElement.dataset.live === 'on'")
    page.evaluate(WATCH_LIVE)
    county_doctor.hospital = other_hospital
    user_save(actor=alliance_admin, user=county_doctor, context=SYSTEM)
    page.wait_for_function("() => window.liveSeen.join(',').includes('off,on')")
