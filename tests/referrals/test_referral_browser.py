"""The green channel in Chromium: the specialist signs a report recommending transfer, the
coordinator requests it from the board, the surgery department accepts and schedules, and the
referring doctor's open referral page shows the date live (websocket, no reload)."""

import datetime as dt

import pytest
from django.utils import timezone

from consult.models import Consultation, Role, Status
from referrals.models import Referral
from referrals.models import Status as RS
from tests.browser import browser_login
from tests.factories import ConsultationFactory, DepartmentFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def doctor_page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def _as(page, server, user, password):
    page.context.clear_cookies()
    browser_login(page, server, user, password)


def test_recommendation_to_a_date_the_referring_doctor_sees_live(
    page, doctor_page, asgi_server, county_doctor, child, specialist, coordinator, password
):
    surgery = DepartmentFactory(
        hospital=coordinator.hospital, name_zh="小儿普外科", accepts_referrals=True
    )
    surgeon = UserFactory(
        username="surgeon",
        full_name="钱医生",
        role=Role.REFERRING_DOCTOR,
        hospital=coordinator.hospital,
        department=surgery,
    )
    case = ConsultationFactory(
        patient=child,
        hospital=child.home_hospital,
        requested_by=county_doctor,
        status=Status.IN_REVIEW,
        assigned_to=specialist,
    )
    url = asgi_server.url

    # The specialist signs a report that recommends an urgent transfer.
    _as(page, asgi_server, specialist, password)
    page.goto(f"{url}/consultations/{case.pk}/")
    page.fill("textarea[name=findings]", "回结肠型肠套叠，套头内见1.5 cm息肉。")
    page.fill("textarea[name=impression]", "肠套叠伴病理性诱发点（息肉）。")
    page.check("input[name=transfer_recommended]")
    page.select_option("select[name=transfer_urgency]", "urgent")
    page.fill("input[name=password]", password)
    page.click("button[name=sign]")
    page.wait_for_selector("p.transfer")
    assert Consultation.objects.get(pk=case.pk).status == Status.REPORTED

    # The coordinator sees the recommendation on the board and requests the transfer.
    _as(page, asgi_server, coordinator, password)
    page.goto(f"{url}/referrals/")
    page.click(f"li[data-consultation='{case.pk}'] a.button")
    page.wait_for_url("**/referrals/new/**")
    assert page.input_value("select[name=urgency]") == "urgent"
    page.select_option("select[name=department]", str(surgery.pk))
    page.fill("textarea[name=reason]", "反复肠套叠伴息肉，需手术。")
    page.click("form.referral-request button[type=submit]")
    referral = Referral.objects.get()
    page.wait_for_url(f"**/referrals/{referral.pk}/")
    assert referral.report is not None and referral.studies.count() == 1

    # The referring doctor opens the referral and leaves the page open.
    browser_login(doctor_page, asgi_server, county_doctor, password)
    doctor_page.goto(f"{url}/referrals/{referral.pk}/")
    doctor_page.wait_for_function("document.documentElement.dataset.live === 'on'")
    doctor_page.evaluate("window.__sameDocument = true")

    # The department accepts and schedules.
    _as(page, asgi_server, surgeon, password)
    page.goto(f"{url}/referrals/")
    page.click(f"tr[data-referral='{referral.pk}'] a")
    page.click("form.accept button")
    page.wait_for_selector("form.schedule-form")
    when = timezone.localtime() + dt.timedelta(days=2)
    when = when.replace(hour=9, minute=30)
    page.fill("input[name=scheduled_for]", when.strftime("%Y-%m-%dT%H:%M"))
    page.fill("input[name=slot]", "12床")
    page.fill("input[name=report_to]", "住院部3楼小儿外科护士站")
    page.select_option("select[name=transport]", "local_ambulance")
    page.fill("input[name=what_to_bring]", "医保卡")
    page.click("form.schedule-form button[type=submit]")
    page.wait_for_selector(".scheduled-for")
    referral.refresh_from_db()
    assert referral.status == RS.SCHEDULED

    # The doctor's page, never reloaded, shows the date and the place.
    expected = when.strftime("%Y-%m-%d %H:%M")
    doctor_page.wait_for_selector(f"#referral-live .scheduled-for >> text={expected}")
    assert "住院部3楼小儿外科护士站" in doctor_page.inner_text("#referral-live")
    assert doctor_page.evaluate("window.__sameDocument === true")
