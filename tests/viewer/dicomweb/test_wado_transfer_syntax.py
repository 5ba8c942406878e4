"""WADO-RS transfer syntax negotiation (PS3.18 §8.7.3) against a running server: as stored
by default, decoded to native little endian on request, 406 for what we cannot produce."""

import io

import numpy as np
import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid
from requests.exceptions import HTTPError

from viewer.dicomweb.transcode import (
    NotAcceptable,
    acceptable_syntaxes,
    choose,
    frame_plan,
    parse_accept,
)
from viewer.integrations.services import integration_token_create

pytestmark = pytest.mark.django_db(transaction=True)
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
J2K = "1.2.840.10008.1.2.4.91"  # JPEG2000.dcm: JPEG 2000 (lossy allowed)
J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
RLE = "1.2.840.10008.1.2.5"
SAMPLES = {
    "SC_rgb_jpeg_dcmtk.dcm": JPEG_BASELINE,
    "JPEG2000.dcm": J2K,
    "MR_small_RLE.dcm": RLE,
    "MR_small_bigendian.dcm": "1.2.840.10008.1.2.2",
}


@pytest.fixture
def server(live_server, county_hospital, alliance_admin, child):
    _token, secret = integration_token_create(
        hospital=county_hospital, name="County PACS", created_by=alliance_admin
    )
    web = DICOMwebClient(
        url=f"{live_server.url}/dicomweb", headers={"Authorization": f"Bearer {secret}"}
    )
    datasets = {name: pydicom.dcmread(get_testdata_file(name)) for name in SAMPLES}
    # The big endian and RLE samples are one image under one SOP Instance UID.
    big = datasets["MR_small_bigendian.dcm"]
    big.SOPInstanceUID = big.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    web.store_instances(list(datasets.values()))
    return web, datasets, live_server.url, {"Authorization": f"Bearer {secret}"}


def get(address, headers):
    return requests.get(address, headers=headers, timeout=60)


def uids(ds):
    return ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID


def url(base, ds, tail=""):
    study, series, sop = uids(ds)
    return f"{base}/dicomweb/studies/{study}/series/{series}/instances/{sop}{tail}"


def parts(response) -> list[tuple[str, bytes]]:
    boundary = response.headers["Content-Type"].split("boundary=")[1].strip('"').encode()
    out = []
    for chunk in response.content.split(b"--" + boundary)[1:-1]:
        head, body = chunk.split(b"\r\n\r\n", 1)
        media = [h for h in head.decode().split("\r\n") if h.lower().startswith("content-type")]
        out.append((media[0].split(":", 1)[1].strip(), body[:-2]))
    return out


@pytest.mark.parametrize("name", list(SAMPLES))
def test_a_client_asking_explicit_little_endian_gets_decoded_pixels(server, name):
    web, datasets, _base, _auth = server
    original = datasets[name]
    got = web.retrieve_instance(
        *uids(original), media_types=(("application/dicom", ExplicitVRLittleEndian),)
    )
    assert got.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert got.SOPInstanceUID == original.SOPInstanceUID
    assert np.array_equal(got.pixel_array, original.pixel_array)


@pytest.mark.parametrize("name", list(SAMPLES))
def test_any_syntax_gets_the_stored_file(server, name):
    web, datasets, _base, _auth = server
    got = web.retrieve_instance(*uids(datasets[name]), media_types=(("application/dicom", "*"),))
    assert got.file_meta.TransferSyntaxUID == SAMPLES[name]


def test_without_a_transfer_syntax_the_stored_file_is_sent(server):
    _web, datasets, base, auth = server
    ds = datasets["JPEG2000.dcm"]
    response = get(
        url(base, ds), headers={**auth, "Accept": 'multipart/related; type="application/dicom"'}
    )
    [(media, body)] = parts(response)
    assert media == f"application/dicom; transfer-syntax={J2K}"
    with open(get_testdata_file("JPEG2000.dcm"), "rb") as fp:
        assert body[128:] == fp.read()[128:]


def test_implicit_little_endian_is_produced_too(server):
    _web, datasets, base, auth = server
    ds = datasets["MR_small_RLE.dcm"]
    accept = (
        f'multipart/related; type="application/dicom"; transfer-syntax={ImplicitVRLittleEndian}'
    )
    [(media, body)] = parts(get(url(base, ds), headers={**auth, "Accept": accept}))
    assert media == f"application/dicom; transfer-syntax={ImplicitVRLittleEndian}"
    got = pydicom.dcmread(io.BytesIO(body))
    assert got.file_meta.TransferSyntaxUID == ImplicitVRLittleEndian
    assert np.array_equal(got.pixel_array, ds.pixel_array)


def test_a_syntax_we_cannot_produce_is_406_with_a_reason(server):
    web, datasets, base, auth = server
    with pytest.raises(HTTPError) as error:
        web.retrieve_instance(
            *uids(datasets["MR_small_RLE.dcm"]), media_types=(("application/dicom", J2K_LOSSLESS),)
        )
    assert error.value.response.status_code == 406
    assert J2K_LOSSLESS in error.value.response.json()["detail"]
    bad = get(url(base, datasets["MR_small_RLE.dcm"]), headers={**auth, "Accept": "image/png"})
    assert bad.status_code == 406


def test_an_instance_too_large_to_transcode_is_406_but_served_as_stored(server, settings):
    web, datasets, _base, _auth = server
    settings.WADO_MAX_TRANSCODE_BYTES = 1000
    ds = datasets["JPEG2000.dcm"]
    with pytest.raises(HTTPError) as error:
        web.retrieve_instance(
            *uids(ds), media_types=(("application/dicom", ExplicitVRLittleEndian),)
        )
    assert error.value.response.status_code == 406
    assert "too large" in error.value.response.json()["detail"]
    got = web.retrieve_instance(*uids(ds), media_types=(("application/dicom", "*"),))
    assert got.file_meta.TransferSyntaxUID == J2K


def test_a_study_retrieve_takes_each_instances_first_producible_syntax(server):
    _web, datasets, base, auth = server
    jpeg = datasets["SC_rgb_jpeg_dcmtk.dcm"]
    accept = (
        f'multipart/related; type="application/dicom"; transfer-syntax={J2K}, '
        'multipart/related; type="application/dicom"; '
        f"transfer-syntax={ExplicitVRLittleEndian};q=0.5"
    )
    response = get(
        f"{base}/dicomweb/studies/{jpeg.StudyInstanceUID}", headers={**auth, "Accept": accept}
    )
    assert response.status_code == 200
    [(media, body)] = parts(response)
    assert media.endswith(ExplicitVRLittleEndian)
    # The JPEG 2000 instance is sent as it is, the client's first choice.
    j2k = datasets["JPEG2000.dcm"]
    response = get(
        f"{base}/dicomweb/studies/{j2k.StudyInstanceUID}", headers={**auth, "Accept": accept}
    )
    [(media, _body)] = parts(response)
    assert media.endswith(J2K)


def test_frames_decoded_on_request_and_as_stored_otherwise(server):
    web, datasets, base, auth = server
    ds = datasets["SC_rgb_jpeg_dcmtk.dcm"]
    [frame] = web.retrieve_instance_frames(
        *uids(ds),
        frame_numbers=[1],
        media_types=(("application/octet-stream", ExplicitVRLittleEndian),),
    )
    assert frame == ds.pixel_array.tobytes()
    # The bitstream, under its own media type, for `*` and for image/jpeg.
    stored = get(
        url(base, ds, "/frames/1"),
        headers={
            **auth,
            "Accept": 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
        },
    )
    [(media, body)] = parts(stored)
    assert media == f"image/jpeg; transfer-syntax={JPEG_BASELINE}" and body[:2] == b"\xff\xd8"
    # A compressed format other than the stored one cannot be produced.
    refused = get(
        url(base, ds, "/frames/1"),
        headers={**auth, "Accept": 'multipart/related; type="image/jp2"'},
    )
    assert refused.status_code == 406
    assert "application/octet-stream" in refused.json()["detail"]


def test_multi_frame_rle_frames_decode_one_by_one(live_server, server):
    web, _datasets, _base, _auth = server
    ds = pydicom.dcmread(get_testdata_file("SC_rgb_rle_2frame.dcm"))
    web.store_instances([ds])
    frames = web.retrieve_instance_frames(
        *uids(ds),
        frame_numbers=[2, 1],
        media_types=(("application/octet-stream", ExplicitVRLittleEndian),),
    )
    assert frames == [ds.pixel_array[1].tobytes(), ds.pixel_array[0].tobytes()]


# --- the negotiation itself, without a server -------------------------------------------


def test_accept_is_ordered_by_quality_and_keeps_quoted_commas():
    ranges = parse_accept('a/b;q=0.2, multipart/related; type="x/y,z", c/d')
    assert [r.media for r in ranges] == ["multipart/related", "c/d", "a/b"]
    assert ranges[0].params["type"] == "x/y,z"


def test_absent_or_star_means_as_stored():
    assert choose(J2K, acceptable_syntaxes("")) == J2K
    assert choose(J2K, acceptable_syntaxes("*/*")) == J2K
    assert choose(J2K, acceptable_syntaxes('multipart/related; type="application/dicom"')) == J2K


def test_an_undecodable_stored_syntax_cannot_become_native():
    mpeg2 = "1.2.840.10008.1.2.4.100"
    with pytest.raises(NotAcceptable):
        choose(mpeg2, [ExplicitVRLittleEndian])
    assert choose(mpeg2, [ExplicitVRLittleEndian, "*"]) == mpeg2


def test_native_frames_are_always_as_stored_for_octet_stream():
    plan = frame_plan(
        ExplicitVRLittleEndian,
        "application/octet-stream",
        'multipart/related; type="application/octet-stream"',
    )
    assert (plan.decode, plan.transfer_syntax) == (False, ExplicitVRLittleEndian)
    with pytest.raises(NotAcceptable):
        frame_plan(ExplicitVRLittleEndian, "application/octet-stream", "image/jpeg")
