"""Uploading new images right inside a consultation page, in Chromium: the studies appear
among the choices already ticked and nothing the doctor typed is lost."""

import pytest

from consult.models import Consultation, Status
from core.audit import SYSTEM
from tests.browser import browser_login
from tests.factories import StudyFactory
from tests.viewer.dicom_builders import make_dataset, make_file
from viewer.models import Study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HISTORY = "阵发性哭闹2天，呕吐，果酱样便。既往两次肠套叠。"
QUESTION = "是否再次肠套叠？能否空气灌肠复位？"


@pytest.fixture
def dicom_file(tmp_path):
    study_uid = make_dataset().StudyInstanceUID
    path = tmp_path / "IM0001.dcm"
    path.write_bytes(make_file(study_uid=study_uid))
    return path, study_uid


def test_doctor_uploads_a_study_in_the_form_and_submits_it(
    page, live_server, county_doctor, password, child, dicom_file
):
    path, study_uid = dicom_file
    older = StudyFactory(patient=child, description="上次超声")
    browser_login(page, live_server, county_doctor, password)
    page.goto(f"{live_server.url}/consultations/new/?patient={child.pk}")
    page.wait_for_selector("#uploader[data-ready='1']")
    page.fill("textarea[name=clinical_history]", HISTORY)
    page.fill("textarea[name=question]", QUESTION)

    page.set_input_files("input[name=dicom-files]", str(path))
    page.wait_for_selector("#summary:not([hidden])")
    page.wait_for_function("() => document.getElementById('id_studies').dataset.refreshed === '1'")
    study = Study.objects.get(study_instance_uid=study_uid)
    new_box = page.locator(f"#id_studies input[name=studies][value='{study.pk}']")
    assert new_box.is_checked()
    assert "CT" in page.locator(f"label[for='{new_box.get_attribute('id')}']").inner_text()
    # The study that was there before is offered as before, not ticked for the doctor.
    assert not page.locator(f"input[name=studies][value='{older.pk}']").is_checked()
    assert page.locator("#files .result").get_attribute("data-status") == "ok"
    assert page.locator("[data-count=accepted]").inner_text() == "1"
    assert page.input_value("textarea[name=clinical_history]") == HISTORY
    assert page.input_value("textarea[name=question]") == QUESTION

    page.click("button[name=save]")
    page.wait_for_url("**/edit/")
    case = Consultation.objects.get()
    assert list(case.studies.all()) == [study]
    assert (case.clinical_history, case.question) == (HISTORY, QUESTION)
    assert page.locator(f"input[name=studies][value='{study.pk}']").is_checked()

    page.click("button[name=submit]")
    page.wait_for_url(f"**/consultations/{case.pk}/")
    case.refresh_from_db()
    assert case.status != Status.DRAFT
    assert page.locator(f"ul.studies a[href='/viewer/studies/{study_uid}/']").count() == 1


def test_doctor_answers_an_information_request_with_new_images(
    page, live_server, county_doctor, password, draft, on_call_specialist, dicom_file
):
    from consult.consultations.services import (
        consultation_accept,
        consultation_request_info,
        consultation_submit,
    )

    path, study_uid = dicom_file
    consultation_submit(context=SYSTEM, consultation=draft, actor=county_doctor)
    consultation_accept(context=SYSTEM, consultation=draft, actor=on_call_specialist)
    consultation_request_info(
        context=SYSTEM,
        consultation=draft,
        actor=on_call_specialist,
        question="请上传今天的复查CT。",
    )
    before = set(draft.studies.values_list("pk", flat=True))

    browser_login(page, live_server, county_doctor, password)
    page.goto(f"{live_server.url}/consultations/{draft.pk}/")
    page.click("details.answer-images summary")
    page.wait_for_selector("#uploader[data-ready='1']")
    page.fill("form.message-form textarea[name=body]", "今天复查的CT已上传。")
    page.set_input_files("input[name=dicom-files]", str(path))
    page.wait_for_function(
        "() => document.getElementById('answer-studies').dataset.refreshed === '1'"
    )
    study = Study.objects.get(study_instance_uid=study_uid)
    # Only the study uploaded here is offered with the answer, ticked.
    boxes = page.locator("#answer-studies input[name=studies]")
    assert boxes.count() == 1 and boxes.first.is_checked()
    assert boxes.first.get_attribute("value") == str(study.pk)
    assert page.input_value("form.message-form textarea[name=body]") == "今天复查的CT已上传。"

    with page.expect_navigation():
        page.click("form.message-form button[type=submit]")
    draft.refresh_from_db()
    assert draft.status == Status.IN_REVIEW  # the answer restarted the clock
    assert set(draft.studies.values_list("pk", flat=True)) == before | {study.pk}
    answer = draft.messages.get(kind="answer")
    assert answer.body.startswith("今天复查的CT已上传。") and "CT" in answer.body.splitlines()[-1]
    assert page.locator(f"ul.studies a[href='/viewer/studies/{study_uid}/']").count() == 1
