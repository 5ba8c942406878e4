"""DICOMweb against a running server, with dicomweb-client as the client."""

import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from core.models import AuditEvent
from tests.factories import PatientFactory
from tests.viewer.dicom_builders import make_dataset
from viewer.integrations.services import integration_token_create, integration_token_revoke
from viewer.models import Instance, Source, Study

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def outsider_token(other_hospital, alliance_admin):
    return integration_token_create(
        hospital=other_hospital, name="Other PACS", created_by=alliance_admin
    )[1]


def client_for(live_server, secret: str) -> DICOMwebClient:
    return DICOMwebClient(
        url=f"{live_server.url}/dicomweb", headers={"Authorization": f"Bearer {secret}"}
    )


@pytest.fixture
def stored(live_server, county_token, child):
    """A CT study of two instances (one multi-frame) and a Chinese-named unmatched study."""
    web = client_for(live_server, county_token)
    study = make_dataset().StudyInstanceUID
    first = make_dataset(study_uid=study, series_uid="1.2.826.0.1.1", accession="A100")
    second = make_dataset(
        study_uid=study, series_uid="1.2.826.0.1.1", instance_number=2, frames=3, accession="A100"
    )
    web.store_instances([first, second])
    chinese = make_dataset(
        patient_id="UNKNOWN7",
        patient_name="Wang^Xiaohong=王^小红",
        study_date="20250610",
        modality="MR",
        accession="A200",
    )
    chinese.SpecificCharacterSet = "ISO_IR 192"
    web.store_instances([chinese])
    return {"study": study, "first": first, "second": second, "chinese": chinese, "web": web}


def test_stow_stores_and_answers_referenced_sops(stored, child):
    first = stored["first"]
    instance = Instance.objects.get(sop_instance_uid=first.SOPInstanceUID)
    assert instance.source == Source.STOW
    assert instance.series.study.patient == child  # PatientID C000123 is the child's MRN
    assert Study.objects.get(study_instance_uid=stored["chinese"].StudyInstanceUID).patient is None
    upload = AuditEvent.objects.filter(object_type="dicom_upload", patient=child).get()
    assert upload.reason == "accepted=2 total=2"
    assert upload.username.startswith("integration-COUNTY")


def test_stow_reports_failed_parts_with_reasons(live_server, county_token):
    good = make_dataset()
    bad = make_dataset()
    bad.SOPInstanceUID = "1.2.bad"
    response = client_for(live_server, county_token).store_instances([good, bad])
    assert [i.ReferencedSOPInstanceUID for i in response.ReferencedSOPSequence] == [
        good.SOPInstanceUID
    ]
    [failed] = response.FailedSOPSequence
    assert failed.FailureReason == 0xC000
    assert "not a valid UID" in failed[0x00000902].value


def test_stow_to_a_study_url_refuses_instances_of_other_studies(live_server, county_token):
    web = client_for(live_server, county_token)
    study = make_dataset().StudyInstanceUID
    with pytest.raises(requests.HTTPError) as caught:
        web.store_instances([make_dataset()], study_instance_uid=study)
    assert caught.value.response.status_code == 409
    body = caught.value.response.json()
    assert "another study" in body["00081198"]["Value"][0]["00000902"]["Value"][0]


def test_stow_without_a_token_is_401(live_server):
    response = requests.post(
        f"{live_server.url}/dicomweb/studies",
        data=b"--x\r\n\r\n--x--",
        headers={"Content-Type": 'multipart/related; type="application/dicom"; boundary=x'},
        timeout=10,
    )
    assert response.status_code == 401


def test_stow_with_a_revoked_token_is_401(live_server, county_hospital, alliance_admin):
    token, secret = integration_token_create(
        hospital=county_hospital, name="Old", created_by=alliance_admin
    )
    integration_token_revoke(token=token, user=alliance_admin)
    with pytest.raises(requests.HTTPError) as caught:
        client_for(live_server, secret).store_instances([make_dataset()])
    assert caught.value.response.status_code == 401


def test_stow_of_a_malformed_body_says_so(live_server, county_token):
    response = requests.post(
        f"{live_server.url}/dicomweb/studies",
        data=b"no boundary here",
        headers={
            "Content-Type": 'multipart/related; type="application/dicom"; boundary=zz',
            "Authorization": f"Bearer {county_token}",
        },
        timeout=10,
    )
    assert response.status_code == 400
    assert "malformed" in response.json()["detail"]


def test_stow_accepts_every_transfer_syntax_sample(live_server, county_token):
    names = [
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
        "image_dfl.dcm",
        "MR_small_RLE.dcm",
        "SC_rgb_jpeg_dcmtk.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "JPGExtended.dcm",
    ]
    datasets = [pydicom.dcmread(get_testdata_file(n)) for n in names]
    for ds in datasets:  # several samples share a SOP Instance UID: make each unique
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    response = client_for(live_server, county_token).store_instances(datasets)
    assert len(response.ReferencedSOPSequence) == len(names)


def test_qido_finds_studies_by_each_key(stored):
    web = stored["web"]

    def uids(**search):
        return {s["0020000D"]["Value"][0] for s in web.search_for_studies(**search)}

    study, chinese = stored["study"], stored["chinese"].StudyInstanceUID
    assert uids(search_filters={"PatientID": "C000123"}) == {study}
    assert uids(search_filters={"PatientName": "王*"}) == {chinese}
    assert uids(search_filters={"PatientName": "*小红"}) == {chinese}
    assert uids(search_filters={"PatientName": "wang*"}) == {chinese}
    assert uids(search_filters={"StudyDate": "20250101-20251231"}) == {chinese}
    assert uids(search_filters={"StudyDate": "20261101"}) == {study}
    assert uids(search_filters={"ModalitiesInStudy": "MR"}) == {chinese}
    assert uids(search_filters={"AccessionNumber": "A100"}) == {study}
    assert uids(search_filters={"StudyInstanceUID": study}) == {study}
    assert len(web.search_for_studies(limit=1)) == 1
    assert len(web.search_for_studies(limit=1, offset=1)) == 1
    assert web.search_for_studies(offset=2) == []


def test_qido_answers_chinese_names_as_person_name_groups(stored):
    [result] = stored["web"].search_for_studies(
        search_filters={"PatientName": "王*"}, fields=["InstitutionName"]
    )
    assert result["00100010"]["Value"][0] == {
        "Alphabetic": "Wang^Xiaohong",
        "Ideographic": "王^小红",
    }
    assert "00080080" in result


def test_qido_series_and_instances(stored):
    web, study = stored["web"], stored["study"]
    [series] = web.search_for_series(study_instance_uid=study)
    assert series["00201209"]["Value"] == [2]
    instances = web.search_for_instances(study_instance_uid=study)
    assert {i["00080018"]["Value"][0] for i in instances} == {
        stored["first"].SOPInstanceUID,
        stored["second"].SOPInstanceUID,
    }
    assert web.search_for_series(search_filters={"Modality": "MR"})[0]["00080060"]["Value"] == [
        "MR"
    ]


def test_qido_bad_date_is_400(stored, live_server, county_token):
    response = requests.get(
        f"{live_server.url}/dicomweb/studies?StudyDate=yesterday",
        headers={"Authorization": f"Bearer {county_token}"},
        timeout=10,
    )
    assert response.status_code == 400
    assert "StudyDate" in response.json()["detail"]


def test_wado_retrieves_study_series_instance(stored, child):
    web, study, first = stored["web"], stored["study"], stored["first"]
    assert len(web.retrieve_study(study)) == 2
    assert len(web.retrieve_series(study, first.SeriesInstanceUID)) == 2
    got = web.retrieve_instance(study, first.SeriesInstanceUID, first.SOPInstanceUID)
    assert got.SOPInstanceUID == first.SOPInstanceUID
    assert got.PixelData == first.PixelData
    assert AuditEvent.objects.filter(action="view", patient=child, object_type="study").exists()


def test_wado_metadata_points_pixels_to_bulk_data(stored):
    web, study = stored["web"], stored["study"]
    metadata = web.retrieve_study_metadata(study)
    assert len(metadata) == 2
    pixel = metadata[0]["7FE00010"]
    assert "/frames/" in pixel["BulkDataURI"]
    assert "InlineBinary" not in pixel


def test_wado_frames_returns_the_requested_frames(stored):
    web, second = stored["web"], stored["second"]
    frames = web.retrieve_instance_frames(
        stored["study"], second.SeriesInstanceUID, second.SOPInstanceUID, frame_numbers=[1, 3]
    )
    size = 8 * 8 * 2
    assert frames == [second.PixelData[:size], second.PixelData[2 * size : 3 * size]]


def test_wado_frames_of_compressed_instances_are_the_bitstream(live_server, county_token):
    web = client_for(live_server, county_token)
    ds = pydicom.dcmread(get_testdata_file("SC_rgb_jpeg_dcmtk.dcm"))
    web.store_instances([ds])
    [frame] = web.retrieve_instance_frames(
        ds.StudyInstanceUID,
        ds.SeriesInstanceUID,
        ds.SOPInstanceUID,
        frame_numbers=[1],
        media_types=(("image/jpeg", "1.2.840.10008.1.2.4.50"),),
    )
    assert frame[:2] == b"\xff\xd8"


def test_outsider_token_finds_nothing_and_is_refused_retrieval(stored, live_server, outsider_token):
    other = client_for(live_server, outsider_token)
    assert other.search_for_studies() == []
    assert other.search_for_instances() == []
    with pytest.raises(requests.HTTPError) as caught:
        other.retrieve_study(stored["study"])
    assert caught.value.response.status_code == 404
    denied = AuditEvent.objects.filter(action="denied", object_id=stored["study"]).get()
    assert denied.username.startswith("integration-OTHER")


def test_outsider_login_is_refused_retrieval(stored, client, outsider):
    client.force_login(outsider)
    assert client.get("/dicomweb/studies").json() == []
    response = client.get(f"/dicomweb/studies/{stored['study']}/metadata")
    assert response.status_code == 404
    assert AuditEvent.objects.filter(action="denied", user=outsider).exists()


def test_doctor_session_can_search_and_retrieve(stored, client, county_doctor):
    client.force_login(county_doctor)
    studies = client.get("/dicomweb/studies").json()
    assert len(studies) == 2
    response = client.get(f"/dicomweb/studies/{stored['study']}")
    assert response["Content-Type"].startswith("multipart/related")


def test_session_stow_needs_the_csrf_token(live_server, county_doctor, password):
    session = requests.Session()
    session.get(f"{live_server.url}/login/")
    session.post(
        f"{live_server.url}/login/",
        data={
            "username": county_doctor.username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{live_server.url}/login/"},
    )
    response = session.post(
        f"{live_server.url}/dicomweb/studies",
        data=b"--x--",
        headers={"Content-Type": 'multipart/related; type="application/dicom"; boundary=x'},
    )
    assert response.status_code == 403


def test_qido_query_count_does_not_grow_with_results(
    db, client, county_doctor, county_hospital, django_assert_max_num_queries
):
    import io

    from tests.viewer.dicom_builders import to_bytes
    from viewer.ingest.services import Sender, instance_ingest

    sender = Sender(hospital=county_hospital, source=Source.STOW)
    for n in range(6):
        patient = PatientFactory(home_hospital=county_hospital)
        data = to_bytes(make_dataset(patient_id=patient.identifiers.get().mrn, instance_number=n))
        instance_ingest(fp=io.BytesIO(data), name="x", size=len(data), sender=sender)
    client.force_login(county_doctor)
    # Session, user, one query for the page, session save; plus one audit row per child.
    with django_assert_max_num_queries(6 + 6):
        assert len(client.get("/dicomweb/studies").json()) == 6
