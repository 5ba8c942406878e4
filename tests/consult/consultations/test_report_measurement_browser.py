"""A measurement saved in the viewer goes into the report's findings with one click (Chromium)."""

import pytest
from django.utils import translation

from consult.models import Report
from tests.browser import browser_login
from tests.factories import InstanceFactory, SeriesFactory
from viewer.models import Measurement

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def measurement(in_review, on_call_specialist):
    study = in_review.studies.first()
    series = SeriesFactory(study=study, series_number=3)
    instance = InstanceFactory(series=series, instance_number=14, sending_hospital=study.hospital)
    return Measurement.objects.create(
        study=study,
        instance=instance,
        kind="length",
        points=[[0, 0], [10, 0]],
        value=23.46,
        unit="mm",
        note="套叠头部直径",
        created_by=on_call_specialist,
    )


def test_specialist_inserts_a_measurement_into_the_findings_and_saves_it(
    page, live_server, in_review, on_call_specialist, password, measurement
):
    with translation.override("zh-hans"):
        line = measurement.report_text  # the page is in Chinese
    assert "23.5" in line and "毫米" in line
    browser_login(page, live_server, on_call_specialist, password)
    page.goto(f"{live_server.url}/consultations/{in_review.pk}/")
    page.fill("#id_findings", "右下腹可见同心圆征。")
    page.fill("#id_impression", "回结肠型肠套叠。")
    page.click(".measurements button.insert-measurement")
    assert page.input_value("#id_findings") == f"右下腹可见同心圆征。\n{line}"

    with page.expect_navigation():
        page.click("form.report-editor button[name=save]")
    report = Report.objects.get(consultation=in_review)
    assert report.findings.splitlines() == ["右下腹可见同心圆征。", line]
    assert report.impression == "回结肠型肠套叠。"
    # The saved draft shows the line in the editor again.
    assert line in page.input_value("#id_findings")
