"""Browser upload endpoints: files, zips, resume, photos and PDFs, access."""

import io
import json
import stat
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from core.models import AuditEvent
from tests.viewer.dicom_builders import make_dataset, make_file, to_bytes
from viewer.models import Instance, Source, Study
from viewer.storage import hash_zeroed


def post_files(client, child, *files):
    return client.post(reverse("viewer:upload-files", args=[child.pk]), {"file": list(files)})


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def statuses(response) -> dict[str, str]:
    return {r["name"]: r["status"] for r in response.json()["results"]}


def test_doctor_uploads_files_for_a_child(login, county_doctor, child):
    client = login(county_doctor)
    study = make_dataset().StudyInstanceUID
    files = [upload(f"IM{n}", make_file(study_uid=study, instance_number=n)) for n in range(3)]
    response = post_files(client, child, *files)
    assert response.status_code == 200
    assert set(statuses(response).values()) == {"accepted"}
    assert Study.objects.get(study_instance_uid=study).patient == child
    row = AuditEvent.objects.filter(object_type="dicom_upload").get()
    assert (row.patient, row.user) == (child, county_doctor)


def test_one_bad_file_does_not_stop_the_rest(login, county_doctor, child):
    response = post_files(
        login(county_doctor),
        child,
        upload("good.dcm", make_file()),
        upload("notes.txt", b"just text" * 50),
    )
    result = {r["name"]: r for r in response.json()["results"]}
    assert result["good.dcm"]["status"] == "accepted"
    assert result["notes.txt"]["status"] == "rejected"
    assert "DICM" in result["notes.txt"]["reason"]


def test_upload_for_a_child_the_user_may_not_see_is_404(login, outsider, child):
    response = post_files(login(outsider), child, upload("IM1", make_file()))
    assert response.status_code == 404
    assert not Instance.objects.exists()
    assert AuditEvent.objects.filter(
        action="denied", user=outsider, object_type="patient", object_id=str(child.pk)
    ).exists()


def test_upload_without_files_says_so(login, county_doctor, child):
    response = login(county_doctor).post(reverse("viewer:upload-files", args=[child.pk]))
    assert response.status_code == 400
    assert response.json()["detail"]


def _zip(members: dict[str, bytes], symlinks: tuple[str, ...] = ()) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name in symlinks:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return out.getvalue()


def test_a_zip_is_unpacked_and_its_bad_members_refused_by_name(login, county_doctor, child):
    data = _zip(
        {
            "CD/DICOM/IM1": make_file(),
            "CD/DICOM/IM2": make_file(),
            "/abs/IM3": make_file(),
            "../escape/IM4": make_file(),
            "inner.zip": _zip({"IM5": make_file()}),
            "CD/README.TXT": b"burned by PACS",
        },
        symlinks=("CD/link",),
    )
    response = post_files(login(county_doctor), child, upload("study.zip", data))
    result = {r["name"]: r for r in response.json()["results"]}
    assert result["study.zip/CD/DICOM/IM1"]["status"] == "accepted"
    assert result["study.zip/CD/DICOM/IM2"]["status"] == "accepted"
    assert result["study.zip//abs/IM3"]["code"] == "zip_path"
    assert result["study.zip/../escape/IM4"]["code"] == "zip_path"
    assert result["study.zip/inner.zip"]["code"] == "zip_nested"
    assert result["study.zip/CD/link"]["code"] == "zip_symlink"
    assert result["study.zip/CD/README.TXT"]["code"] == "not_dicom"
    assert Instance.objects.count() == 2


def test_a_zip_with_too_many_members_is_refused(login, county_doctor, child, settings):
    settings.IMAGING_MAX_ZIP_MEMBERS = 2
    data = _zip({f"IM{n}": make_file() for n in range(3)})
    response = post_files(login(county_doctor), child, upload("big.zip", data))
    [result] = response.json()["results"]
    assert (result["name"], result["code"]) == ("big.zip", "zip_too_many")


def test_a_zip_over_the_uncompressed_cap_is_refused(login, county_doctor, child, settings):
    settings.IMAGING_MAX_ZIP_BYTES = 1024 * 1024
    data = _zip({"zeros": b"\0" * (2 * 1024 * 1024)})  # compresses to a few KB
    [result] = post_files(login(county_doctor), child, upload("bomb.zip", data)).json()["results"]
    assert result["code"] == "zip_too_large"


def test_a_file_over_the_size_cap_is_refused(login, county_doctor, child, settings):
    settings.IMAGING_MAX_FILE_BYTES = 1000
    [result] = post_files(login(county_doctor), child, upload("IM1", make_file())).json()["results"]
    assert (result["name"], result["code"]) == ("IM1", "too_large")


def test_resume_asks_which_files_are_already_held(login, county_doctor, child, outsider):
    held = to_bytes(make_dataset(), preamble=b"\7" * 128)
    post_files(login(county_doctor), child, upload("IM1", held))
    new = make_file()
    hashes = [hash_zeroed(io.BytesIO(held)), hash_zeroed(io.BytesIO(new))]
    url = reverse("viewer:upload-have", args=[child.pk])
    body = json.dumps({"sha256": hashes})
    response = login(county_doctor).post(url, body, content_type="application/json")
    assert response.json() == {"have": [hashes[0]]}
    refused = login(outsider).post(url, body, content_type="application/json")
    assert refused.status_code == 404


def _jpeg_with_exif_rotation() -> bytes:
    image = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x8825] = {2: (30.0, 15.0, 0.0)}  # GPS latitude
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_a_photo_of_film_becomes_secondary_capture_upright_without_exif(
    login, county_doctor, child
):
    client = login(county_doctor)
    data = {
        "file": upload("film.jpg", _jpeg_with_exif_rotation()),
        "kind": "film",
        "batch": "batch-0001",
    }
    response = client.post(reverse("viewer:upload-photo", args=[child.pk]), data)
    assert response.json()["results"][0]["status"] == "accepted"
    instance = Instance.objects.get()
    assert instance.source == Source.PHOTO
    assert instance.is_photo_of_film
    assert (instance.rows, instance.columns) == (40, 20)  # EXIF orientation applied
    assert instance.series.study.has_photo_of_film
    import pydicom

    with default_storage.open(instance.storage_key) as fp:
        ds = pydicom.dcmread(fp)
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    assert ds.PatientName == child.name
    assert ds.PatientID == "C000123"
    assert "not of diagnostic quality" in ds.ImageComments
    assert b"Exif" not in bytes(ds.PixelData)
    page = client.get(reverse("viewer:upload", args=[child.pk]))
    assert "photo of film, not of diagnostic quality" in page.content.decode() or (
        "胶片翻拍" in page.content.decode()
    )


def test_a_pdf_becomes_encapsulated_pdf(login, county_doctor, child):
    data = {
        "file": upload("report.pdf", b"%PDF-1.4\n%%EOF\n"),
        "kind": "document",
        "batch": "batch-0002",
    }
    response = login(county_doctor).post(reverse("viewer:upload-photo", args=[child.pk]), data)
    assert response.json()["results"][0]["status"] == "accepted"
    assert Instance.objects.get().sop_class_uid == "1.2.840.10008.5.1.4.1.1.104.1"


def test_a_file_that_is_no_picture_is_refused(login, county_doctor, child):
    data = {"file": upload("x.jpg", b"not a jpeg"), "kind": "film", "batch": "batch-0003"}
    response = login(county_doctor).post(reverse("viewer:upload-photo", args=[child.pk]), data)
    [result] = response.json()["results"]
    assert (result["status"], result["name"], result["code"]) == ("rejected", "x.jpg", "not_image")


def test_upload_page_lists_the_childs_studies(login, county_doctor, child):
    post_files(login(county_doctor), child, upload("IM1", make_file()))
    response = login(county_doctor).get(reverse("viewer:upload", args=[child.pk]))
    assert response.status_code == 200
    assert b"Abdomen" in response.content
    assert AuditEvent.objects.filter(action="view", patient=child).exists()


def test_upload_page_is_404_for_an_outsider(login, outsider, child):
    assert login(outsider).get(reverse("viewer:upload", args=[child.pk])).status_code == 404
    assert AuditEvent.objects.filter(action="denied", user=outsider).exists()


@pytest.mark.parametrize("count", [1, 5])
def test_upload_page_query_count_does_not_grow(
    login, county_doctor, child, django_assert_max_num_queries, count
):
    client = login(county_doctor)
    for _ in range(count):
        post_files(client, child, upload("IM", make_file()))
    with django_assert_max_num_queries(14):
        client.get(reverse("viewer:upload", args=[child.pk]))


def test_a_photo_over_its_cap_is_refused(login, county_doctor, child, settings):
    settings.IMAGING_MAX_PHOTO_BYTES = 100
    data = {
        "file": upload("big.jpg", _jpeg_with_exif_rotation()),
        "kind": "film",
        "batch": "batch-0004",
    }
    response = login(county_doctor).post(reverse("viewer:upload-photo", args=[child.pk]), data)
    [result] = response.json()["results"]
    assert (result["name"], result["code"]) == ("big.jpg", "too_large")
    assert not Instance.objects.exists()
