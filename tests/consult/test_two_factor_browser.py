"""A specialist's first login in real Chromium, on a desktop and on a 390 px phone: password,
the QR code to scan, the code from the app, the printed backup codes, then the worklist home;
and the next login with the app's code."""

from base64 import b32decode

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.browser import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _code_for(secret: str) -> str:
    """What the authenticator app shows now for the key typed in from the page."""
    return f"{totp(b32decode(secret.replace(' ', ''))):06d}"


def _fits(page) -> bool:  # noqa: ANN001
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("screen", ["page", "phone_page"])
def test_specialist_enrols_the_app_and_logs_in_with_it(
    screen, request, live_server, specialist, password
):
    page = request.getfixturevalue(screen)
    page.goto(f"{live_server.url}/worklist/")
    page.fill("input[name=username]", specialist.username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")

    page.wait_for_url(f"{live_server.url}/login/enrol/")
    qr = page.locator("figure.qr svg")
    assert qr.is_visible()
    box = qr.bounding_box()
    assert box["width"] >= 120 and box["x"] + box["width"] <= page.viewport_size["width"]
    assert _fits(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"two-factor-enrol-{screen}.png"), full_page=True)
    secret = page.locator("code.secret").inner_text()
    page.fill("input[name=otp_token]", _code_for(secret))
    page.click("main button.primary")

    page.wait_for_url(f"{live_server.url}/account/backup-codes/")
    assert page.locator("ol.codes li").count() == 10
    assert _fits(page)
    page.click("main a.button.primary")
    page.wait_for_url(f"{live_server.url}/worklist/")

    page.click("header form[action$='/logout/'] button")
    page.wait_for_url(f"{live_server.url}/login/")
    page.fill("input[name=username]", specialist.username)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{live_server.url}/login/verify/")
    assert _fits(page)
    # A code is accepted once: a person waits for the app's next one; the test forgets the use.
    TOTPDevice.objects.filter(user=specialist).update(last_t=-1)
    page.fill("input[name=otp_token]", _code_for(secret))
    page.click("main button.primary")
    page.wait_for_url(f"{live_server.url}/")
    assert "刘主任" in page.locator(".whoami").inner_text()
