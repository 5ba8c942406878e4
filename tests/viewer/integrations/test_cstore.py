"""The C-STORE listener: registered nodes only, the same pipeline, failures per dataset."""

import shutil
import socket
import subprocess
import time

import pytest
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.sop_class import Verification

from tests.factories import DicomNodeFactory
from tests.viewer.dicom_builders import make_dataset, make_file
from viewer.integrations.listener import start_listener
from viewer.models import Instance, Source, Study

pytestmark = pytest.mark.django_db(transaction=True)


def wait_for(check, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def listener(settings):
    settings.DICOM_AE_TITLE = "PEDSLINK"
    port = free_port()
    server = start_listener(host="127.0.0.1", port=port)
    yield port
    server.shutdown()


@pytest.fixture
def county_node(county_hospital):
    return DicomNodeFactory(
        hospital=county_hospital, ae_title="COUNTYPACS", allowed_ips="127.0.0.1"
    )


def associate(port: int, ae_title: str):
    ae = AE(ae_title=ae_title)
    ae.add_requested_context(Verification)
    ae.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    return ae.associate("127.0.0.1", port, ae_title="PEDSLINK")


def test_registered_node_echoes_and_stores(listener, county_node, child):
    assoc = associate(listener, "COUNTYPACS")
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0x0000
    ds = make_dataset(patient_id="C000123")
    assert assoc.send_c_store(ds).Status == 0x0000
    assoc.release()
    instance = Instance.objects.get(sop_instance_uid=ds.SOPInstanceUID)
    assert instance.source == Source.CSTORE
    assert instance.sending_hospital == county_node.hospital
    assert instance.series.study.patient == child


def test_unknown_ae_title_is_rejected(listener, county_node):
    assoc = associate(listener, "STRANGER")
    assert assoc.is_rejected


def test_known_ae_title_from_another_address_is_rejected(listener, county_hospital):
    DicomNodeFactory(hospital=county_hospital, ae_title="FARPACS", allowed_ips="10.9.9.0/24")
    assert associate(listener, "FARPACS").is_rejected


def test_deactivated_node_is_rejected(listener, county_node):
    county_node.is_active = False
    county_node.save()
    assert associate(listener, "COUNTYPACS").is_rejected


def test_bad_dataset_fails_with_a_comment_and_the_association_continues(listener, county_node):
    assoc = associate(listener, "COUNTYPACS")
    bad = make_dataset()
    bad.SOPInstanceUID = "1.2.x"
    bad.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    status = assoc.send_c_store(bad)
    assert status.Status == 0xC000
    assert "not a valid UID" in status.ErrorComment
    good = make_dataset()
    assert assoc.send_c_store(good).Status == 0x0000
    assoc.release()
    assert list(Instance.objects.values_list("sop_instance_uid", flat=True)) == [
        good.SOPInstanceUID
    ]


def test_different_bytes_under_a_stored_uid_answer_a_failure(listener, county_node):
    assoc = associate(listener, "COUNTYPACS")
    ds = make_dataset()
    assert assoc.send_c_store(ds).Status == 0x0000
    assert assoc.send_c_store(ds).Status == 0x0000  # identical again: success
    ds.StudyDescription = "changed"
    assert assoc.send_c_store(ds).Status == 0x0111
    assoc.release()


@pytest.mark.skipif(shutil.which("storescu") is None, reason="dcmtk's storescu is not installed")
def test_dcmtk_storescu_stores_into_pedslink(listener, county_node, tmp_path):
    files = []
    study = make_dataset().StudyInstanceUID
    for n in range(3):
        path = tmp_path / f"IM{n}.dcm"
        path.write_bytes(make_file(study_uid=study, instance_number=n, patient_id="NEW1"))
        files.append(str(path))
    done = subprocess.run(
        ["storescu", "-aet", "COUNTYPACS", "-aec", "PEDSLINK", "127.0.0.1", str(listener), *files],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert Instance.objects.filter(series__study__study_instance_uid=study).count() == 3
    # Counts are recounted once the association ends, just after storescu sees the release.
    assert wait_for(lambda: Study.objects.get(study_instance_uid=study).number_of_instances == 3)
    study_row = Study.objects.get(study_instance_uid=study)
    assert study_row.patient is None  # unknown MRN: the unmatched queue


def test_echo_needs_no_dataset(listener, county_node):
    assoc = associate(listener, "COUNTYPACS")
    assert assoc.send_c_echo().Status == 0
    assoc.release()
    assert not Instance.objects.exists()
