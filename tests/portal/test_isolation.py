"""A guardian sees only the shared report, its images and PDF; every view is audited."""

import datetime as dt

from consult.portal.services import portal_share_create
from core.audit import SYSTEM
from core.models import AuditEvent
from tests.factories import GuardianFactory, PatientFactory, SeriesFactory, SignedReportFactory
from tests.portal.conftest import link_token, post


def _other_child_share(county_doctor):  # noqa: ANN001, ANN202
    other = PatientFactory(
        name="王小红", home_hospital=county_doctor.hospital, birth_date=dt.date(2022, 6, 1)
    )
    guardian = GuardianFactory(patient=other, name="王妈妈", mobile="13700003333")
    report = SignedReportFactory(
        consultation__patient=other,
        consultation__hospital=other.home_hospital,
        consultation__requested_by=county_doctor,
        impression="先天性髋关节发育不良。",
    )
    (share,) = portal_share_create(
        report=report, guardians=[guardian], user=county_doctor, context=SYSTEM
    )
    return share


def test_guardian_of_a_gets_nothing_of_b_by_changing_the_cookie(
    client, share_link, opened, county_doctor
):
    other = _other_child_share(county_doctor)
    opened()
    # The cookie's share id changed by hand: the signature no longer matches.
    raw = client.cookies["pl_portal"].value
    client.cookies["pl_portal"] = raw.replace(f'"s": {share_link[0].pk}', f'"s": {other.pk}')
    response = client.get("/p/report/")
    assert response.status_code == 403
    assert "髋关节" not in response.content.decode()
    assert client.get("/p/report/pdf/").status_code == 403


def test_a_verified_session_does_not_open_another_childs_link(
    client, share_link, opened, county_doctor, child
):
    other = _other_child_share(county_doctor)
    opened()
    # Opening B's link starts B's checks from the beginning; A's answers do not carry over.
    client.get(f"/p/{link_token(other.guardian.mobile)}")
    assert client.get("/p/report/")["Location"] == "/p/"
    response = post(client, {"action": "dob", "birth_date": child.birth_date.isoformat()})
    assert response.status_code == 200  # child A's birth date is wrong for child B
    assert client.get("/p/report/")["Location"] == "/p/"


def test_image_positions_outside_the_report_and_staff_or_dicom_urls_give_nothing(
    client, share_link, opened, signed_report
):
    opened()
    assert client.get("/p/report/images/0/").status_code == 404  # no studies with images
    assert client.get("/p/report/images/99/").status_code == 404
    study = signed_report.consultation.studies.first()
    for url in (
        f"/consultations/{signed_report.consultation_id}/",
        f"/consultations/{signed_report.consultation_id}/reports/1/pdf/",
        f"/viewer/studies/{study.study_instance_uid}/",
        f"/dicomweb/studies/{study.study_instance_uid}/series",
        f"/patients/{signed_report.consultation.patient_id}/",
    ):
        response = client.get(url)
        assert response.status_code in (302, 401, 403, 404), url
        assert b"DICM" not in response.content


def test_key_images_are_the_report_studies_middle_images(
    client, share_link, opened, signed_report, settings, tmp_path
):
    from django.core.files.storage import default_storage

    from tests.factories import store_dataset
    from tests.viewer.dicom_data import ct_slice
    from viewer.rendering.cache import cache_key
    from viewer.rendering.render import RenderOptions

    settings.MEDIA_ROOT = tmp_path
    study = signed_report.consultation.studies.first()
    series = SeriesFactory(study=study)
    for i in range(3):
        store_dataset(ct_slice(study.study_instance_uid, series.series_instance_uid, i), series)
    opened()
    page = client.get("/p/report/").content.decode()
    assert page.count('class="shot"') == 1
    image = client.get("/p/report/images/0/")
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert image.content[:2] == b"\xff\xd8"
    # Served from the render cache's default-window rendering (what the render task fills).
    middle = series.instances.order_by("instance_number")[1]
    with default_storage.open(cache_key(middle, RenderOptions().cache_name())) as fh:
        assert fh.read() == image.content
    assert image["Referrer-Policy"] == "no-referrer"


def test_every_view_is_an_audit_row_with_the_link_as_actor(client, share_link, opened):
    share, _ = share_link
    opened()
    client.get("/p/report/")
    client.get("/p/report/pdf/")
    rows = AuditEvent.objects.filter(portal_token_id=f"portal-share:{share.pk}")
    assert rows.filter(action="login").count() == 1
    assert rows.filter(action="view", object_type="report").count() == 1
    export = rows.get(action="export")
    assert export.patient_id == share.patient_id and export.user is None
    assert export.ip == "127.0.0.1"


def test_failed_tries_are_audited_as_failures(client, share_link):
    share, token = share_link
    client.get(f"/p/{token}")
    post(client, {"action": "dob", "birth_date": "2019-05-05"})
    row = AuditEvent.objects.get(portal_token_id=f"portal-share:{share.pk}")
    assert row.action == "login_failed" and row.outcome == "failure"


def test_pdf_download_is_the_shared_version(client, share_link, opened):
    opened()
    response = client.get("/p/report/pdf/")
    assert response.status_code == 200
    assert response.content.startswith(b"%PDF")
    assert "attachment" in response["Content-Disposition"]
