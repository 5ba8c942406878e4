"""The conflicts review: different bytes under a stored SOP Instance UID, decided by the
sending hospital's doctors or the alliance admin, nothing ever lost."""

import io

import pydicom
import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from consult.models import PatientIdentifier
from core.models import AuditEvent
from tests.browser import browser_login
from tests.factories import UserFactory
from tests.viewer.dicom_builders import make_dataset, to_bytes
from viewer.ingest.services import Outcome, instance_ingest
from viewer.models import IngestConflict, Instance, RenderInfo


def ingest(data: bytes, sender):
    return instance_ingest(fp=io.BytesIO(data), name="IM1", size=len(data), sender=sender)


@pytest.fixture
def conflict(web_sender):
    """The county hospital sent an image, then a corrected one under the same UID."""
    ds = make_dataset()
    ingest(to_bytes(ds), web_sender)
    ds.StudyDescription = "Abdomen, corrected"
    ds.PixelData = bytes(len(ds.PixelData))  # other pixels too
    result = ingest(to_bytes(ds), web_sender)
    assert result.status == Outcome.CONFLICT
    return IngestConflict.objects.get()


def stored_bytes(key: str) -> bytes:
    with default_storage.open(key) as fp:
        return fp.read()


def test_the_sending_hospitals_doctor_sees_the_open_conflict_listed(
    login, county_doctor, conflict, child
):
    response = login(county_doctor).get(reverse("viewer:conflicts"))
    page = response.content.decode()
    assert response.status_code == 200
    assert conflict.sop_instance_uid in page
    assert child.name in page
    assert conflict.sha256[:12] in page and conflict.existing.sha256[:12] in page
    view = AuditEvent.objects.get(action="view", object_type="ingestconflict")
    assert view.patient == child and view.user == county_doctor


def test_the_nav_links_the_conflicts_with_a_count_of_open_ones(
    login, county_doctor, outsider, conflict
):
    client = login(county_doctor)
    page = client.get(reverse("viewer:unmatched")).content.decode()
    assert 'id="nav-conflicts"' in page and reverse("viewer:conflicts") in page
    assert f'data-live-url="{reverse("viewer:conflict-count")}"' in page
    assert client.get(reverse("viewer:conflict-count")).json() == {"open": 1}
    client.post(reverse("viewer:conflict", args=[conflict.pk]), {"action": "keep", "reason": "x"})
    assert client.get(reverse("viewer:conflict-count")).json() == {"open": ""}
    assert login(outsider).get(reverse("viewer:conflict-count")).json() == {"open": ""}


def test_another_hospitals_doctor_sees_no_conflict_and_gets_404_on_it(login, outsider, conflict):
    client = login(outsider)
    assert conflict.sop_instance_uid not in client.get(reverse("viewer:conflicts")).content.decode()
    assert client.get(reverse("viewer:conflict", args=[conflict.pk])).status_code == 404
    assert client.get(reverse("viewer:conflict-file", args=[conflict.pk])).status_code == 404
    response = client.post(
        reverse("viewer:conflict", args=[conflict.pk]), {"action": "keep", "reason": "x"}
    )
    assert response.status_code == 404
    assert IngestConflict.objects.get().resolution == ""
    assert AuditEvent.objects.filter(action="denied", object_type="ingestconflict").count() == 3


def test_a_specialist_has_no_conflicts_page(login, specialist, conflict):
    assert login(specialist).get(reverse("viewer:conflicts")).status_code == 404


def test_the_detail_shows_both_headers_and_what_differs(login, county_doctor, conflict, child):
    response = login(county_doctor).get(reverse("viewer:conflict", args=[conflict.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    differing = page.split('id="differing"')[1].split("</table>")[0]
    assert "StudyDescription" in differing
    assert "Abdomen, corrected" in differing and "Abdomen<" in differing
    assert "PatientName" not in differing  # identical elements are not listed as differing
    assert "PatientName" in page.split('id="headers"')[1]
    assert "PixelData" not in page  # headers only
    assert AuditEvent.objects.filter(
        action="view", object_type="ingestconflict", object_id=str(conflict.pk), patient=child
    ).exists()


def test_keeping_the_stored_version_discards_the_new_bytes_and_records_who_and_why(
    login, county_doctor, conflict, django_capture_on_commit_callbacks
):
    original = stored_bytes(conflict.existing.storage_key)
    new_key = conflict.storage_key
    client = login(county_doctor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("viewer:conflict", args=[conflict.pk]),
            {"action": "keep", "reason": "sent twice by the modality"},
        )
    assert response.status_code == 302
    row = IngestConflict.objects.get()
    assert row.resolution == IngestConflict.Resolution.KEPT_STORED
    assert (row.resolved_by, row.resolution_reason) == (county_doctor, "sent twice by the modality")
    assert row.resolved_at is not None
    assert not default_storage.exists(new_key)
    assert stored_bytes(Instance.objects.get().storage_key) == original
    # It leaves the open list and shows under "resolved".
    assert conflict.sop_instance_uid not in client.get(reverse("viewer:conflicts")).content.decode()
    resolved = client.get(reverse("viewer:conflicts") + "?state=resolved").content.decode()
    assert conflict.sop_instance_uid in resolved and "sent twice by the modality" in resolved
    audit = AuditEvent.objects.get(action="update", object_type="ingestconflict")
    assert "sent twice by the modality" in audit.reason and audit.user == county_doctor


def test_a_decision_without_a_reason_is_refused(login, county_doctor, conflict):
    response = login(county_doctor).post(
        reverse("viewer:conflict", args=[conflict.pk]), {"action": "replace", "reason": "  "}
    )
    assert response.status_code == 400
    assert IngestConflict.objects.get().resolution == ""


def test_replacing_serves_the_new_version_and_keeps_the_old_one_downloadable(
    login, county_doctor, conflict, child, django_capture_on_commit_callbacks
):
    instance = conflict.existing
    old_key, old_sha = instance.storage_key, instance.sha256
    old_bytes = stored_bytes(old_key)
    new_key, new_sha = conflict.storage_key, conflict.sha256
    RenderInfo.objects.create(instance=instance, info={"stale": True})
    client = login(county_doctor)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            reverse("viewer:conflict", args=[conflict.pk]),
            {"action": "replace", "reason": "description corrected at the PACS"},
        )
    assert response.status_code == 302
    instance.refresh_from_db()
    assert (instance.storage_key, instance.sha256) == (new_key, new_sha)
    served = pydicom.dcmread(io.BytesIO(stored_bytes(instance.storage_key)))
    assert served.StudyDescription == "Abdomen, corrected"
    assert not RenderInfo.objects.filter(instance=instance).exists()
    row = IngestConflict.objects.get()
    assert row.resolution == IngestConflict.Resolution.REPLACED
    assert (row.storage_key, row.sha256) == (old_key, old_sha)
    # The superseded file is still there, downloadable by the doctor, with an export row.
    download = client.get(reverse("viewer:conflict-file", args=[row.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == old_bytes
    assert AuditEvent.objects.filter(action="export", patient=child).exists()
    audit = AuditEvent.objects.get(action="update", object_type="instance")
    assert "description corrected at the PACS" in audit.reason
    assert audit.user == county_doctor and audit.patient == child
    # The viewer's WADO-RS now serves the new bytes.
    series = instance.series
    wado = client.get(
        f"/dicomweb/studies/{series.study.study_instance_uid}/series/"
        f"{series.series_instance_uid}/instances/{instance.sop_instance_uid}"
    )
    assert b"Abdomen, corrected" in b"".join(wado.streaming_content)


def test_a_resolved_conflict_cannot_be_decided_again(
    login, county_doctor, alliance_admin, conflict
):
    login(county_doctor).post(
        reverse("viewer:conflict", args=[conflict.pk]), {"action": "keep", "reason": "first"}
    )
    response = login(alliance_admin).post(
        reverse("viewer:conflict", args=[conflict.pk]), {"action": "replace", "reason": "second"}
    )
    assert response.status_code == 200
    row = IngestConflict.objects.get()
    assert (row.resolution, row.resolution_reason) == ("kept", "first")


def test_the_alliance_admin_sees_and_resolves_every_hospitals_conflicts(
    login, alliance_admin, conflict
):
    client = login(alliance_admin)
    assert conflict.sop_instance_uid in client.get(reverse("viewer:conflicts")).content.decode()
    client.post(
        reverse("viewer:conflict", args=[conflict.pk]),
        {"action": "replace", "reason": "confirmed with the county hospital"},
    )
    assert IngestConflict.objects.get().resolved_by == alliance_admin


def test_a_new_version_naming_another_series_cannot_replace(
    login, county_doctor, web_sender, county_hospital
):
    ds = make_dataset()
    ingest(to_bytes(ds), web_sender)
    ds.SeriesInstanceUID = "1.2.3.999"
    ingest(to_bytes(ds), web_sender)
    row = IngestConflict.objects.get()
    response = login(county_doctor).post(
        reverse("viewer:conflict", args=[row.pk]), {"action": "replace", "reason": "try"}
    )
    assert response.status_code == 400
    assert "新版本所属的检查或序列与已存储版本不同" in response.content.decode()
    assert IngestConflict.objects.get().resolution == ""


def test_a_sending_hospital_that_cannot_see_the_stored_study_is_shown_nothing(
    login, township_doctor, township_hospital, conflict
):
    # The township hospital re-sent the county hospital's image it was shared.
    IngestConflict.objects.filter(pk=conflict.pk).update(sending_hospital=township_hospital)
    colleague = UserFactory(username="town2", hospital=township_hospital)
    # Without access to the stored study, nothing is shown.
    assert login(colleague).get(reverse("viewer:conflict", args=[conflict.pk])).status_code == 404


def test_a_hospital_that_does_not_own_the_study_may_discard_but_not_replace(
    login, township_doctor, township_hospital, conflict, child
):
    # The child is also registered at the township hospital, which re-sent the image.
    PatientIdentifier.objects.create(patient=child, hospital=township_hospital, mrn="T-9")
    IngestConflict.objects.filter(pk=conflict.pk).update(sending_hospital=township_hospital)
    client = login(township_doctor)
    page = client.get(reverse("viewer:conflict", args=[conflict.pk])).content.decode()
    assert 'value="replace"' not in page
    assert "只有发送该检查的医院可以替换其图像" in page
    refused = client.post(
        reverse("viewer:conflict", args=[conflict.pk]), {"action": "replace", "reason": "mine"}
    )
    assert refused.status_code == 400
    assert IngestConflict.objects.get().resolution == ""
    client.post(reverse("viewer:conflict", args=[conflict.pk]), {"action": "keep", "reason": "ok"})
    assert IngestConflict.objects.get().resolution == "kept"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_badge_shows_the_open_count_in_the_browser(
    page, live_server, county_doctor, password, conflict
):
    browser_login(page, live_server, county_doctor, password)
    page.goto(f"{live_server.url}/imaging/unmatched/")
    page.wait_for_function("() => document.getElementById('conflict-count').textContent === '1'")
    page.click("#nav-conflicts")
    page.click(f"[data-conflict='{conflict.pk}'] a")
    page.fill("textarea[name=reason]", "re-sent by mistake")
    page.check("input[value=keep]")
    page.click("#resolve button[type=submit]")
    page.wait_for_url(f"{live_server.url}/imaging/conflicts/")
    assert page.locator("#conflicts tbody").inner_text().count(conflict.sop_instance_uid) == 0
    assert page.locator("#conflict-count").is_hidden()


def test_replacing_drops_the_old_renderings_and_the_viewer_renders_the_new_pixels(
    login, county_doctor, conflict, django_capture_on_commit_callbacks
):
    from viewer.rendering import cache as render_cache
    from viewer.rendering.render import RenderOptions

    instance = conflict.existing
    old = render_cache.rendered(instance, RenderOptions(frame=0, media_type="image/png"))
    old_folder = render_cache.key_for(instance.pk, instance.sha256, "").rstrip("/")
    assert default_storage.listdir(old_folder)[1]
    with django_capture_on_commit_callbacks(execute=True):
        login(county_doctor).post(
            reverse("viewer:conflict", args=[conflict.pk]),
            {"action": "replace", "reason": "pixels corrected at the PACS"},
        )
    assert default_storage.listdir(old_folder)[1] == []
    instance.refresh_from_db()
    new = render_cache.rendered(instance, RenderOptions(frame=0, media_type="image/png"))
    assert new.data != old.data  # the corrected image (all zero pixels), not the cached old one
