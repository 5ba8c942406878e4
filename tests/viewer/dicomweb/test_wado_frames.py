"""WADO-RS frames straight from storage, for native and encapsulated transfer syntaxes."""

import io

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import generate_frames

from viewer.ingest.services import instance_ingest
from viewer.models import Instance


def store(name: str, sender) -> Instance:
    with open(get_testdata_file(name), "rb") as fp:
        data = fp.read()
    result = instance_ingest(fp=io.BytesIO(data), name=name, size=len(data), sender=sender)
    assert result.status == "accepted", result.reason
    return Instance.objects.select_related("series__study").get(pk=result.instance_id)


def frames_url(instance: Instance, frames: str) -> str:
    s = instance.series
    return (
        f"/dicomweb/studies/{s.study.study_instance_uid}/series/{s.series_instance_uid}"
        f"/instances/{instance.sop_instance_uid}/frames/{frames}"
    )


def parts(response) -> list[bytes]:
    boundary = response["Content-Type"].split("boundary=")[1].strip('"')
    body = response.content
    chunks = body.split(b"--" + boundary.encode())[1:-1]
    return [chunk.split(b"\r\n\r\n", 1)[1][:-2] for chunk in chunks]


@pytest.mark.parametrize(
    "name", ["MR_small_implicit.dcm", "CT_small.dcm", "SC_rgb_rle_2frame.dcm", "rtdose.dcm"]
)
def test_frames_are_the_stored_pixels(client, county_doctor, pacs_sender, name):
    instance = store(name, pacs_sender)
    ds = pydicom.dcmread(get_testdata_file(name))
    count = int(ds.get("NumberOfFrames", 1))
    client.force_login(county_doctor)
    numbers = ",".join(str(n) for n in range(1, count + 1))
    response = client.get(frames_url(instance, numbers))
    assert response.status_code == 200
    got = parts(response)
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        assert got == list(generate_frames(ds.PixelData, number_of_frames=count))
        assert response["Content-Type"].startswith('multipart/related; type="image/dicom-rle"')
    else:
        size = len(ds.PixelData) // count
        assert got == [ds.PixelData[i * size : (i + 1) * size] for i in range(count)]


def test_frame_out_of_range_is_404_and_bad_list_is_400(client, county_doctor, pacs_sender):
    instance = store("CT_small.dcm", pacs_sender)
    client.force_login(county_doctor)
    assert client.get(frames_url(instance, "2")).status_code == 404
    response = client.get(frames_url(instance, "one"))
    assert response.status_code == 400


def test_outsider_cannot_read_frames(client, outsider, pacs_sender):
    instance = store("CT_small.dcm", pacs_sender)
    client.force_login(outsider)
    assert client.get(frames_url(instance, "1")).status_code == 404


def test_big_endian_frames_are_served_little_endian(client, county_doctor, pacs_sender):
    instance = store("MR_small_bigendian.dcm", pacs_sender)
    client.force_login(county_doctor)
    [frame] = parts(client.get(frames_url(instance, "1")))
    assert frame == pydicom.dcmread(get_testdata_file("MR_small.dcm")).PixelData
