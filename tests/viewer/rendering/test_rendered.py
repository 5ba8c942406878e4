"""DICOMweb rendered and thumbnail resources: access, parameters, cache, bad input."""

import io
import warnings

import numpy as np
import pytest
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.uid import generate_uid

from core.models import AuditEvent
from tests.factories import SeriesFactory, StudyFactory, store_dataset
from tests.viewer.dicom_data import ct_slice, rgb_photo, us_multiframe
from viewer.integrations.services import integration_token_create

pytestmark = pytest.mark.django_db


def urls(study):
    series = study.series.first()
    inst = series.instances.order_by("instance_number").first()
    base = f"/dicomweb/studies/{study.study_instance_uid}"
    sbase = f"{base}/series/{series.series_instance_uid}"
    ibase = f"{sbase}/instances/{inst.sop_instance_uid}"
    return base, sbase, ibase


def image(response):
    return Image.open(io.BytesIO(response.content))


def test_frame_rendered_with_request_window_matches_the_values(login, county_doctor, ct_study):
    _, _, ibase = urls(ct_study)
    response = login(county_doctor).get(
        f"{ibase}/frames/1/rendered?window=40,400", HTTP_ACCEPT="image/png"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    pixels = np.asarray(image(response))
    # Disc value 40 HU at the centre of a 40/400 window is mid-grey; air (-1024) is black.
    assert abs(int(pixels[32, 32]) - 128) <= 1
    assert pixels[0, 0] == 0


def test_second_request_is_served_from_the_cache(login, county_doctor, ct_study):
    _, _, ibase = urls(ct_study)
    client = login(county_doctor)
    first = client.get(f"{ibase}/frames/1/rendered")
    second = client.get(f"{ibase}/frames/1/rendered")
    assert first["X-Render-Cache"] == "miss"
    assert second["X-Render-Cache"] == "hit"
    assert first.content == second.content
    assert image(second).format == "JPEG"


def test_viewport_and_quality_are_honoured(login, county_doctor, ct_study):
    _, _, ibase = urls(ct_study)
    client = login(county_doctor)
    small = client.get(f"{ibase}/rendered?viewport=32,32&quality=30")
    assert image(small).size == (32, 32)
    assert len(small.content) < len(client.get(f"{ibase}/rendered?quality=95").content)


@pytest.mark.parametrize(
    "query",
    ["window=40", "window=a,b", "viewport=0,10", "viewport=big", "quality=0", "quality=x"],
)
def test_bad_parameters_are_refused_with_a_reason(login, county_doctor, ct_study, query):
    _, _, ibase = urls(ct_study)
    response = login(county_doctor).get(f"{ibase}/rendered?{query}")
    assert response.status_code == 400
    assert response.content


def test_unrenderable_accept_is_refused(login, county_doctor, ct_study):
    _, _, ibase = urls(ct_study)
    response = login(county_doctor).get(f"{ibase}/rendered", HTTP_ACCEPT="image/gif")
    assert response.status_code == 400


def test_frame_numbers_out_of_range_are_refused(login, county_doctor, ct_study):
    _, _, ibase = urls(ct_study)
    assert login(county_doctor).get(f"{ibase}/frames/2/rendered").status_code == 400
    assert login(county_doctor).get(f"{ibase}/frames/x/rendered").status_code == 400


def test_several_frames_come_back_multipart(login, county_doctor, child):
    study = StudyFactory(patient=child, modalities="US")
    series = SeriesFactory(study=study, modality="US")
    inst = store_dataset(
        us_multiframe(study.study_instance_uid, series.series_instance_uid), series
    )
    base = (
        f"/dicomweb/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"
        f"/instances/{inst.sop_instance_uid}"
    )
    response = login(county_doctor).get(f"{base}/frames/1,3,8/rendered", HTTP_ACCEPT="image/png")
    assert response.status_code == 200
    assert response["Content-Type"].startswith('multipart/related; type="image/png"')
    assert response.content.count(b"\x89PNG") == 3
    one = login(county_doctor).get(f"{base}/frames/3/rendered", HTTP_ACCEPT="image/png")
    assert (
        np.asarray(image(one))[0, 0] == 40
    )  # frame 3; 8-bit data without a window shown as stored


def test_study_and_series_rendered_are_multipart_of_every_instance(login, county_doctor, ct_study):
    base, sbase, _ = urls(ct_study)
    client = login(county_doctor)
    for url in (f"{base}/rendered", f"{sbase}/rendered"):
        response = client.get(url)
        assert response.status_code == 200
        assert response.content.count(b"\xff\xd8\xff") == 5


@pytest.mark.parametrize("level", ["study", "series", "instance", "frame"])
def test_thumbnails_are_small_images(login, county_doctor, ct_study, level):
    base, sbase, ibase = urls(ct_study)
    url = {
        "study": base,
        "series": sbase,
        "instance": ibase,
        "frame": f"{ibase}/frames/1",
    }[level] + "/thumbnail"
    response = login(county_doctor).get(url)
    assert response.status_code == 200
    assert max(image(response).size) <= 128


@pytest.mark.parametrize("suffix", ["/rendered", "/thumbnail", "/frames/1/rendered"])
def test_outsider_gets_404_and_a_denied_row(login, outsider, ct_study, suffix):
    _, _, ibase = urls(ct_study)
    response = login(outsider).get(ibase + suffix)
    assert response.status_code == 404
    denied = AuditEvent.objects.filter(user=outsider, action=AuditEvent.Action.DENIED)
    assert denied.filter(object_type="instance").count() == 1


def test_outsider_gets_404_for_study_and_series_too(login, outsider, ct_study):
    base, sbase, _ = urls(ct_study)
    client = login(outsider)
    assert client.get(f"{base}/thumbnail").status_code == 404
    assert client.get(f"{sbase}/rendered").status_code == 404
    assert AuditEvent.objects.filter(user=outsider, action="denied").count() == 2


def test_anonymous_gets_401(client, ct_study):
    _, _, ibase = urls(ct_study)
    assert client.get(f"{ibase}/rendered").status_code == 401


def test_a_hospital_integration_token_gets_its_own_studies_rendered(
    client, ct_study, county_hospital, other_hospital, alliance_admin
):
    _, _, ibase = urls(ct_study)
    _, secret = integration_token_create(
        hospital=county_hospital, name="PACS", created_by=alliance_admin
    )
    response = client.get(f"{ibase}/rendered", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    _, other_secret = integration_token_create(
        hospital=other_hospital, name="PACS", created_by=alliance_admin
    )
    response = client.get(f"{ibase}/thumbnail", HTTP_AUTHORIZATION=f"Bearer {other_secret}")
    assert response.status_code == 404


def test_many_frame_requests_write_one_view_row(login, county_doctor, ct_study):
    client = login(county_doctor)
    for inst in ct_study.series.first().instances.all():
        base = f"/dicomweb/studies/{ct_study.study_instance_uid}"
        sbase = f"{base}/series/{inst.series.series_instance_uid}"
        assert client.get(f"{sbase}/instances/{inst.sop_instance_uid}/rendered").status_code == 200
    views = AuditEvent.objects.filter(user=county_doctor, action="view", object_type="study")
    assert views.count() == 1
    assert views.get().patient == ct_study.patient


def test_corrupt_frame_gets_a_placeholder_and_a_reason(login, county_doctor, child):
    study = StudyFactory(patient=child)
    series = SeriesFactory(study=study)
    ds = ct_slice(study.study_instance_uid, series.series_instance_uid, 0)
    ds.PixelData = ds.PixelData[:100]  # truncated
    inst = store_dataset(ds, series)
    url = (
        f"/dicomweb/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"
        f"/instances/{inst.sop_instance_uid}/rendered"
    )
    response = login(county_doctor).get(url)
    assert response.status_code == 200
    assert "damaged" in response["Warning"]
    assert image(response).format == "JPEG"


def test_unsupported_transfer_syntax_gets_a_placeholder_naming_it(login, county_doctor, child):
    from pydicom import dcmread
    from pydicom.data import get_testdata_file

    study = StudyFactory(patient=child)
    series = SeriesFactory(study=study)
    ds = dcmread(get_testdata_file("MR_small.dcm"))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"  # MPEG2
    ds.PixelData = encapsulate([b"\x00" * 16])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inst = store_dataset(ds, series)
    url = (
        f"/dicomweb/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"
        f"/instances/{inst.sop_instance_uid}/rendered"
    )
    response = login(county_doctor).get(url)
    assert response.status_code == 200
    assert "cannot be decoded" in response["Warning"]


def test_rgb_photo_renders_in_colour(login, county_doctor, child):
    study = StudyFactory(patient=child, modalities="OT")
    series = SeriesFactory(study=study, modality="OT")
    inst = store_dataset(rgb_photo(study.study_instance_uid, series.series_instance_uid), series)
    url = (
        f"/dicomweb/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"
        f"/instances/{inst.sop_instance_uid}/rendered"
    )
    response = login(county_doctor).get(url, HTTP_ACCEPT="image/png")
    pixels = np.asarray(image(response))
    assert pixels.shape == (30, 40, 3)
    assert tuple(pixels[0, 0]) == (200, 0, 0)


def test_empty_series_thumbnail_says_it_has_no_images(login, county_doctor, child):
    study = StudyFactory(patient=child)
    series = SeriesFactory(study=study)
    url = (
        f"/dicomweb/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"
        "/thumbnail"
    )
    response = login(county_doctor).get(url)
    assert response.status_code == 200
    assert "no images" in response["Warning"]


def test_large_image_renders_reduced_to_the_viewport(login, county_doctor, child):
    study = StudyFactory(patient=child)
    series = SeriesFactory(study=study)
    inst = store_dataset(
        ct_slice(study.study_instance_uid, series.series_instance_uid, 0, 4000), series
    )
    url = (
        f"/dicomweb/studies/{study.study_instance_uid}/series/{series.series_instance_uid}"
        f"/instances/{inst.sop_instance_uid}/rendered?viewport=512,512"
    )
    response = login(county_doctor).get(url)
    assert image(response).size == (512, 512)


def test_scrolling_asks_the_access_selector_once(
    login, county_doctor, ct_study, django_assert_max_num_queries
):
    client = login(county_doctor)
    instances = list(ct_study.series.first().instances.all())
    base = f"/dicomweb/studies/{ct_study.study_instance_uid}/series/"
    urls_ = [
        f"{base}{i.series.series_instance_uid}/instances/{i.sop_instance_uid}/frames/1/rendered"
        for i in instances
    ]
    client.get(urls_[0])
    # session, user, instance by UIDs, session save (+ savepoint): no access subqueries.
    with django_assert_max_num_queries(6):
        assert client.get(urls_[1]).status_code == 200


def test_refusals_are_not_remembered(login, outsider, ct_study):
    _, _, ibase = urls(ct_study)
    client = login(outsider)
    assert client.get(f"{ibase}/rendered").status_code == 404
    assert client.get(f"{ibase}/rendered").status_code == 404
    assert AuditEvent.objects.filter(user=outsider, action="denied").count() == 2
