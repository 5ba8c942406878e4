"""The newcomer's first minutes, in real headless Chromium."""

import pytest

from consult.models import Patient
from tests.browser import browser_login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_logs_in_in_chinese_and_switches_to_english_for_good(
    page, live_server, alliance_admin, password
):
    browser_login(page, live_server, alliance_admin, password)
    assert page.locator("h1").inner_text() == "联盟管理"
    page.click("button[name=language][value=en]")
    assert page.locator("h1").inner_text() == "Alliance administration"
    page.click("text=Hospitals")
    assert page.locator("h1").inner_text() == "Hospitals of the alliance"
    page.goto(f"{live_server.url}/")
    assert page.locator("h1").inner_text() == "Alliance administration"


def test_doctor_registers_a_child_with_two_guardians_in_the_browser(
    page, live_server, county_doctor, password
):
    browser_login(page, live_server, county_doctor, password)
    page.click("a:has-text('登记患儿')")
    page.fill("input[name=name]", "吴浩然")
    page.check("input[name=sex][value=M]")
    page.fill("input[name=birth_date]", "2026-08-01")
    page.fill("input[name=mrn]", "YJ-5566")
    page.fill("input[name=weight_kg]", "0.2")
    page.fill("input[name='guardians-0-name']", "吴海霞")
    page.select_option("select[name='guardians-0-relation']", "mother")
    page.fill("input[name='guardians-0-mobile']", "13655556666")
    page.click("#add-guardian")
    page.fill("input[name='guardians-1-name']", "吴志刚")
    page.select_option("select[name='guardians-1-relation']", "father")
    page.fill("input[name='guardians-1-mobile']", "13655557777")
    page.click("main button[type=submit].primary")
    # The weight is refused; everything typed is still there.
    assert "0.3" in page.locator(".has-error .error").inner_text()
    assert page.input_value("input[name=name]") == "吴浩然"
    assert page.input_value("input[name='guardians-1-name']") == "吴志刚"
    page.fill("input[name=weight_kg]", "4.6")
    page.click("main button[type=submit].primary")
    page.wait_for_url("**/patients/*/")
    assert "吴浩然" in page.locator("h1").inner_text()
    assert "吴志刚" in page.content()
    assert Patient.objects.get(name="吴浩然").guardians.count() == 2
