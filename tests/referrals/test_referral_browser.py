"""The green channel in Chromium: the specialist signs a report recommending transfer, the
coordinator's open board shows it live and the coordinator requests it, the surgery
department accepts and schedules, and the referring doctor's open referral page shows the
date live (websocket, no reload)."""

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
    board, other = doctor_page, page

    # The coordinator's board is open all along.
    _as(board, asgi_server, coordinator, password)
    board.goto(f"{url}/referrals/")
    board.wait_for_function("() => document.documentElement.dataset.live === 'on'")

    # The specialist signs a report that recommends an urgent transfer.
    _as(other, asgi_server, specialist, password)
    other.goto(f"{url}/consultations/{case.pk}/")
    other.fill("textarea[name=findings]", "回结肠型肠套叠，套头内见1.5 cm息肉。")
    other.fill("textarea[name=impression]", "肠套叠伴病理性诱发点（息肉）。")
    other.check("input[name=transfer_recommended]")
    other.select_option("select[name=transfer_urgency]", "urgent")
    other.fill("input[name=password]", password)
    other.click("button[name=sign]")
    other.wait_for_selector("p.transfer")
    assert Consultation.objects.get(pk=case.pk).status == Status.REPORTED

    # The recommendation appears on the board without a reload; the coordinator requests.
    board.click(f"li[data-consultation='{case.pk}'] a.button")
    board.wait_for_url("**/referrals/new/**")
    assert board.input_value("select[name=urgency]") == "urgent"
    board.select_option("select[name=department]", str(surgery.pk))
    board.fill("textarea[name=reason]", "反复肠套叠伴息肉，需手术。")
    board.click("form.referral-request button[type=submit]")
    referral = Referral.objects.get()
    board.wait_for_url(f"**/referrals/{referral.pk}/")
    assert referral.report is not None and referral.studies.count() == 1

    # The referring doctor opens the referral and leaves the page open.
    doctor = other
    _as(doctor, asgi_server, county_doctor, password)
    doctor.goto(f"{url}/referrals/{referral.pk}/")
    doctor.wait_for_function("() => document.documentElement.dataset.live === 'on'")
    doctor.evaluate("window.__sameDocument = true")

    # The department accepts and schedules.
    department = board
    _as(department, asgi_server, surgeon, password)
    department.goto(f"{url}/referrals/")
    department.click(f"tr[data-referral='{referral.pk}'] a")
    department.click("form.accept button")
    department.wait_for_selector("form.schedule-form")
    when = timezone.localtime() + dt.timedelta(days=2)
    when = when.replace(hour=9, minute=30)
    department.fill("input[name=scheduled_for]", when.strftime("%Y-%m-%dT%H:%M"))
    department.fill("input[name=slot]", "12床")
    department.fill("input[name=report_to]", "住院部3楼小儿外科护士站")
    department.select_option("select[name=transport]", "local_ambulance")
    department.fill("input[name=what_to_bring]", "医保卡")
    department.click("form.schedule-form button[type=submit]")
    department.wait_for_selector(".scheduled-for")
    referral.refresh_from_db()
    assert referral.status == RS.SCHEDULED

    # The doctor's page, never reloaded, shows the date and the place.
    expected = when.strftime("%Y-%m-%d %H:%M")
    doctor.wait_for_selector(f"#referral-live .scheduled-for >> text={expected}")
    assert "住院部3楼小儿外科护士站" in doctor.inner_text("#referral-live")
    assert doctor.evaluate("window.__sameDocument === true")
