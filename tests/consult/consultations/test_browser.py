"""The whole story in Chromium: the township doctor asks, the specialist's open worklist shows
the case without a reload, asks for information, gets the answer, reports and signs; the
doctor's open page shows the report and the PDF downloads."""

import io

import pytest
from pypdf import PdfReader

from consult.models import Consultation, Status, Subspecialty
from core.audit import SYSTEM
from tests.browser import ARTIFACTS, browser_login
from tests.factories import PatientFactory, StudyFactory, on_call

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def second_page(browser):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def test_township_doctor_to_signed_report(
    page, second_page, asgi_server, township_doctor, specialist, password
):
    child = PatientFactory(name="王小虎", home_hospital=township_doctor.hospital)
    study = StudyFactory(patient=child, description="腹部超声 套叠")
    on_call(specialist, Subspecialty.ABDOMINAL)
    doctor, reader = page, second_page
    url = asgi_server.url

    browser_login(reader, asgi_server, specialist, password)
    reader.goto(f"{url}/worklist/")
    reader.wait_for_function("() => document.documentElement.dataset.live === 'on'")

    browser_login(doctor, asgi_server, township_doctor, password)
    doctor.goto(f"{url}/consultations/new/?patient={child.pk}")
    doctor.select_option("select[name=subspecialty]", "abdominal")
    doctor.fill("textarea[name=clinical_history]", "阵发性哭闹2天，呕吐，果酱样便。")
    doctor.fill("textarea[name=question]", "是否肠套叠？能否空气灌肠复位？")
    doctor.check(f"input[name=studies][value='{study.pk}']")
    doctor.click("button[name=save]")
    doctor.wait_for_url("**/edit/")
    doctor.click("button[name=submit]")
    case = Consultation.objects.get()
    doctor.wait_for_url(f"**/consultations/{case.pk}/")
    doctor.wait_for_function("() => document.documentElement.dataset.live === 'on'")

    # The specialist's worklist, open all along, shows the case without a reload.
    reader.wait_for_selector(f"tr[data-case='{case.pk}']")
    reader.click(f"tr[data-case='{case.pk}'] button")
    reader.wait_for_url(f"**/consultations/{case.pk}/")
    reader.fill("form.info-form textarea", "请补充：腹部包块位置？有无发热？")
    reader.click("form.info-form button")
    reader.wait_for_selector("form.info-form", state="detached")
    case.refresh_from_db()
    assert case.status == Status.INFO_REQUESTED

    # The doctor's open page shows the question live, then the doctor answers.
    doctor.wait_for_selector("#thread >> text=请补充：腹部包块位置")
    doctor.reload()
    doctor.fill("form.message-form textarea", "右上腹腊肠样包块，无发热。")
    doctor.click("form.message-form button")
    reader.wait_for_selector("#thread >> text=右上腹腊肠样包块")
    case.refresh_from_db()
    assert case.status == Status.IN_REVIEW

    reader.reload()
    reader.select_option("select[name=data_intussusception]", "yes")
    reader.fill("input[name=data_length_cm]", "3.5")
    reader.fill("textarea[name=findings]", "右上腹见“同心圆”征，长约3.5 cm，血流存在。")
    reader.fill("textarea[name=impression]", "回结肠型肠套叠。")
    reader.fill("textarea[name=recommendation]", "可行空气灌肠复位。")
    reader.fill("input[name=password]", password)
    reader.click("button[name=sign]")
    reader.wait_for_selector("a.pdf")
    ARTIFACTS.mkdir(exist_ok=True)
    reader.screenshot(path=str(ARTIFACTS / "consultation-signed.png"), full_page=True)

    # The doctor's page reloads itself when the report is signed.
    doctor.wait_for_selector("a.pdf")
    with doctor.expect_download() as download:
        doctor.click("a.pdf")
    pdf = download.value.path().read_bytes()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert "回结肠型肠套叠" in text.replace(" ", "")
    case.refresh_from_db()
    assert case.status == Status.REPORTED


def test_report_signed_while_the_page_was_loading_still_shows(
    page, asgi_server, in_review, password
):
    """The "report" event is pushed while the doctor's page is still loading (its script, and so
    its socket, not there yet): once the socket opens, the page sees the report and shows it."""
    from consult.consultations.reports import report_save, report_sign

    held = []

    def hold(route):  # noqa: ANN001 - the page's live script waits for us
        held.append(route)

    browser_login(page, asgi_server, in_review.requested_by, password)
    page.route("**/js/shared/live*.js", hold)
    page.goto(f"{asgi_server.url}/consultations/{in_review.pk}/", wait_until="commit")
    page.wait_for_selector("[data-report-mark]", state="attached")
    assert not page.locator("a.pdf").count()

    specialist = in_review.assigned_to
    report_save(
        context=SYSTEM,
        consultation=in_review,
        actor=specialist,
        edit_version=0,
        template="general",
        findings="双肾大小形态正常。",
        impression="未见异常。",
    )
    report_sign(context=SYSTEM, consultation=in_review, actor=specialist, password=password)
    while not held:  # the route handler runs while Playwright waits
        page.wait_for_timeout(50)
    held[0].continue_()

    page.wait_for_selector("a.pdf")
    assert "未见异常" in page.inner_text(".consultation")
