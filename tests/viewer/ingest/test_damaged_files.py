"""A file whose bytes break the reader is that file's refusal with a reason, on every way in:
the browser upload, bearer STOW-RS and C-STORE. The other files of the
same request are stored."""

from __future__ import annotations

import io
import random
import struct
import zipfile

import pytest
from django.urls import reverse
from django.utils import translation
from pydicom.uid import CTImageStorage, DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian
from pynetdicom import AE, _config

from tests.factories import DicomNodeFactory
from tests.viewer.dicom_builders import make_dataset, make_file, to_bytes
from tests.viewer.dicomweb.test_dicomweb_handler import post as bearer_stow
from tests.viewer.ingest.test_upload import post_files, upload
from viewer.ingest import reader as ingest
from viewer.ingest.services import ingest_limits
from viewer.integrations.listener import start_listener
from viewer.models import Instance

DEFLATE_REASON = "The deflated data is damaged."


def corrupt_deflated(seed: int = 12) -> tuple[bytes, str]:
    """A valid file meta group naming Deflated Explicit VR Little Endian, then random bytes
    where the deflated dataset should be; and its SOP Instance UID (from the meta group)."""
    ds = make_dataset()
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    good = to_bytes(ds)
    (group_length,) = struct.unpack("<L", good[140:144])
    meta_end = 144 + group_length
    return good[:meta_end] + random.Random(seed).randbytes(3000), ds.SOPInstanceUID


def test_random_bytes_after_a_deflated_meta_group_are_refused_with_a_reason():
    data, _uid = corrupt_deflated()
    with pytest.raises(ingest.IngestError) as caught, translation.override("en"):
        ingest.parse_header(io.BytesIO(data), size=len(data), limits=ingest_limits())
    assert (caught.value.code, str(caught.value)) == ("bad_deflate", DEFLATE_REASON)


def test_upload_of_a_good_and_a_corrupt_deflated_file_stores_the_good_one(
    login, county_doctor, child
):
    bad, bad_uid = corrupt_deflated()
    good = make_dataset()
    response = post_files(
        login(county_doctor),
        child,
        upload("good.dcm", to_bytes(good)),
        upload("broken.dcm", bad),
    )
    assert response.status_code == 200
    result = {r["name"]: r for r in response.json()["results"]}
    assert result["good.dcm"]["status"] == "accepted"
    assert (result["broken.dcm"]["status"], result["broken.dcm"]["code"]) == (
        "rejected",
        "bad_deflate",
    )
    assert result["broken.dcm"]["reason"]
    stored = Instance.objects.values_list("sop_instance_uid", flat=True)
    assert list(stored) == [good.SOPInstanceUID]
    assert bad_uid not in stored


@pytest.mark.parametrize(
    ("language", "reason"), [("zh-hans", "压缩（deflate）数据已损坏。"), ("en", DEFLATE_REASON)]
)
def test_upload_names_the_damage_in_the_users_language(
    login, county_doctor, child, language, reason
):
    bad, _uid = corrupt_deflated()
    response = login(county_doctor).post(
        reverse("viewer:upload-files", args=[child.pk]),
        {"file": [upload("broken.dcm", bad)]},
        headers={"Accept-Language": language},
    )
    [result] = response.json()["results"]
    assert (result["status"], result["reason"]) == ("rejected", reason)


def test_a_zip_member_whose_deflate_stream_is_damaged_is_refused_and_the_rest_stored(
    login, county_doctor, child
):
    good, other = make_dataset(), make_dataset()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a/good.dcm", to_bytes(good))
        archive.writestr("b/broken.dcm", make_file())
        archive.writestr("c/other.dcm", to_bytes(other))
    data = bytearray(out.getvalue())
    # Garble the middle of the second member's compressed data (its local header is where
    # the first member's data ends); the central directory stays intact.
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("b/broken.dcm")
    start = info.header_offset + 30 + len(info.filename) + 20
    data[start : start + 40] = random.Random(3).randbytes(40)
    response = post_files(login(county_doctor), child, upload("set.zip", bytes(data)))
    assert response.status_code == 200
    result = {r["name"]: r for r in response.json()["results"]}
    assert result["set.zip/b/broken.dcm"]["status"] == "rejected"
    assert result["set.zip/b/broken.dcm"]["reason"]
    assert {result["set.zip/a/good.dcm"]["status"], result["set.zip/c/other.dcm"]["status"]} == {
        "accepted"
    }


def test_a_png_photo_with_a_truncated_header_chunk_is_refused_with_a_reason(
    login, county_doctor, child
):
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), "gray").save(out, format="PNG")
    png = bytearray(out.getvalue())
    png[8:12] = (5).to_bytes(4, "big")  # IHDR declares 5 bytes where 13 are due
    data = {"file": upload("film.png", bytes(png)), "kind": "film", "batch": "batch-0009"}
    response = login(county_doctor).post(reverse("viewer:upload-photo", args=[child.pk]), data)
    assert response.status_code == 200
    [result] = response.json()["results"]
    assert (result["status"], result["code"]) == ("rejected", "not_image")
    assert not Instance.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_stow_of_a_good_and_a_corrupt_deflated_instance_answers_202_with_the_failure(
    server, county_token, child
):
    bad, bad_uid = corrupt_deflated()
    good = make_dataset()
    answer = bearer_stow(server, [to_bytes(good), bad], Authorization=f"Bearer {county_token}")
    assert answer.status == 202
    [referenced] = answer.json["00081199"]["Value"]
    assert referenced["00081155"]["Value"] == [good.SOPInstanceUID]
    [failed] = answer.json["00081198"]["Value"]
    assert failed["00081197"]["Value"] == [0xC000]
    assert failed["00000902"]["Value"] == [f"part 2: {DEFLATE_REASON}"]
    assert list(Instance.objects.values_list("sop_instance_uid", flat=True)) == [
        good.SOPInstanceUID
    ]
    assert bad_uid not in set(Instance.objects.values_list("sop_instance_uid", flat=True))


def test_stow_through_the_django_stack_of_a_corrupt_deflated_instance_answers_202(
    client, county_token, child
):
    from tests.viewer.ingest.test_ingest_batching import stow_body

    bad, _uid = corrupt_deflated()
    good = make_dataset()
    body, ctype = stow_body([to_bytes(good), bad])
    response = client.post(
        "/dicomweb/studies",
        data=body,
        content_type=ctype,
        headers={"Authorization": f"Bearer {county_token}"},
    )
    assert response.status_code == 202
    [failed] = response.json()["00081198"]["Value"]
    assert DEFLATE_REASON in failed["00000902"]["Value"][0]
    assert Instance.objects.filter(sop_instance_uid=good.SOPInstanceUID).exists()


@pytest.mark.django_db(transaction=True)
def test_cstore_of_a_corrupt_deflated_dataset_fails_that_one_and_the_association_continues(
    settings, county_hospital, child, tmp_path, monkeypatch
):
    from tests.viewer.integrations.test_cstore import free_port

    settings.DICOM_AE_TITLE = "PEDSLINK"
    DicomNodeFactory(hospital=county_hospital, ae_title="COUNTYPACS", allowed_ips="127.0.0.1")
    port = free_port()
    server = start_listener(host="127.0.0.1", port=port)
    # Sent as the file's bytes, so that the damaged deflate stream reaches the listener.
    monkeypatch.setattr(_config, "STORE_SEND_CHUNKED_DATASET", True)
    try:
        bad, _uid = corrupt_deflated()
        bad_path = tmp_path / "broken.dcm"
        bad_path.write_bytes(bad)
        good = make_dataset()
        good_path = tmp_path / "good.dcm"
        good_path.write_bytes(to_bytes(good))
        ae = AE(ae_title="COUNTYPACS")
        ae.add_requested_context(CTImageStorage, DeflatedExplicitVRLittleEndian)
        ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
        assoc = ae.associate("127.0.0.1", port, ae_title="PEDSLINK")
        assert assoc.is_established
        status = assoc.send_c_store(bad_path)
        assert status.Status == 0xC000
        assert status.ErrorComment == DEFLATE_REASON
        assert assoc.is_established
        assert assoc.send_c_store(good_path).Status == 0x0000
        assoc.release()
    finally:
        server.shutdown()
    assert list(Instance.objects.values_list("sop_instance_uid", flat=True)) == [
        good.SOPInstanceUID
    ]


def test_a_nul_byte_inside_a_text_value_is_dropped_and_the_file_stored(login, county_doctor, child):
    ds = make_dataset(patient_name="LI\0XIAO^MING")
    ds.StudyDescription = "Abdo\0men"
    ds.InstitutionName = "\0County"
    response = post_files(login(county_doctor), child, upload("nul.dcm", to_bytes(ds)))
    assert response.status_code == 200
    assert response.json()["results"][0]["status"] == "accepted"
    study = Instance.objects.select_related("series__study").get().series.study
    assert (study.patient_name_in_file, study.description, study.institution_name) == (
        "LIXIAO^MING",
        "Abdomen",
        "County",
    )
