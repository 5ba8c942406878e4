"""The one ingest service: store, index, dedupe, conflicts, matching to a child."""

import io

import pytest
from django.core.files.storage import default_storage

from tests.factories import PatientFactory
from tests.viewer.dicom_builders import make_dataset, make_file, to_bytes
from viewer.ingest.services import Outcome, Sender, instance_ingest
from viewer.models import IngestConflict, Instance, Source, Study


def ingest(data: bytes, sender, name: str = "IM0001"):
    return instance_ingest(fp=io.BytesIO(data), name=name, size=len(data), sender=sender)


def test_a_file_is_stored_under_a_server_key_with_a_zeroed_preamble(web_sender, child):
    ds = make_dataset()
    data = to_bytes(ds, preamble=b"MZ" + b"\x90" * 126)  # an executable-looking preamble
    result = ingest(data, web_sender, name="../../etc/passwd")
    assert result.status == Outcome.ACCEPTED
    instance = Instance.objects.get(sop_instance_uid=ds.SOPInstanceUID)
    assert ds.SOPInstanceUID not in instance.storage_key
    assert "passwd" not in instance.storage_key
    with default_storage.open(instance.storage_key) as fp:
        stored = fp.read()
    assert stored[:128] == b"\0" * 128
    assert stored[128:] == data[128:]
    assert instance.size == len(data)
    assert instance.series.study.patient == child
    assert instance.source == Source.WEB


def test_the_index_counts_series_and_instances_and_modalities(web_sender):
    study = make_dataset().StudyInstanceUID
    for number in range(3):
        ingest(make_file(study_uid=study, series_uid="1.2.3.1", instance_number=number), web_sender)
    ingest(make_file(study_uid=study, series_uid="1.2.3.2", modality="PT"), web_sender)
    row = Study.objects.get(study_instance_uid=study)
    assert (row.number_of_series, row.number_of_instances) == (2, 4)
    assert row.modalities == "CT\\PT"
    assert row.series.get(series_instance_uid="1.2.3.1").number_of_instances == 3


def test_identical_bytes_again_are_already_stored(web_sender):
    data = make_file()
    assert ingest(data, web_sender).status == Outcome.ACCEPTED
    assert ingest(data, web_sender).status == Outcome.ALREADY_STORED
    assert Instance.objects.count() == 1
    assert Study.objects.get().number_of_instances == 1


def test_a_different_preamble_is_still_the_same_file(web_sender):
    ds = make_dataset()
    ingest(to_bytes(ds), web_sender)
    again = ingest(to_bytes(ds, preamble=b"\1" * 128), web_sender)
    assert again.status == Outcome.ALREADY_STORED


def test_different_bytes_under_a_stored_uid_are_kept_aside_not_overwritten(web_sender):
    ds = make_dataset()
    original = to_bytes(ds)
    ingest(original, web_sender)
    ds.StudyDescription = "Changed"
    result = ingest(to_bytes(ds), web_sender)
    assert (result.status, result.code) == (Outcome.CONFLICT, "conflict")
    assert result.reason
    instance = Instance.objects.get()
    with default_storage.open(instance.storage_key) as fp:
        assert fp.read()[128:] == original[128:]
    conflict = IngestConflict.objects.get()
    assert conflict.existing == instance
    assert default_storage.exists(conflict.storage_key)
    # The same conflicting bytes again are not kept twice.
    ingest(to_bytes(ds), web_sender)
    assert IngestConflict.objects.count() == 1


def test_pacs_push_is_matched_by_mrn_of_the_sending_hospital(pacs_sender, child):
    ingest(make_file(patient_id="C000123"), pacs_sender)
    assert Study.objects.get().patient == child


def test_mrn_of_another_hospital_does_not_match(pacs_sender, other_hospital):
    PatientFactory(home_hospital=other_hospital, mrn="X999")
    ingest(make_file(patient_id="X999"), pacs_sender)
    assert Study.objects.get().patient is None


def test_unknown_mrn_lands_unmatched(pacs_sender):
    result = ingest(make_file(patient_id="NOBODY"), pacs_sender)
    assert result.status == Outcome.ACCEPTED
    study = Study.objects.get()
    assert study.patient is None
    assert study.hospital == pacs_sender.hospital


def test_upload_for_a_child_refuses_a_file_with_another_childs_mrn(web_sender, county_hospital):
    PatientFactory(home_hospital=county_hospital, mrn="C000999")
    result = ingest(make_file(patient_id="C000999"), web_sender, name="IM7")
    assert result.status == Outcome.REJECTED
    assert result.code == "other_child"
    assert result.name == "IM7"
    assert not Instance.objects.exists()


def test_another_hospitals_study_cannot_be_extended(pacs_sender, other_hospital):
    ds = make_dataset(patient_id="NOBODY")
    ingest(to_bytes(ds), pacs_sender)
    intruder = Sender(hospital=other_hospital, source=Source.CSTORE)
    result = ingest(make_file(study_uid=ds.StudyInstanceUID), intruder)
    assert result.status == Outcome.REJECTED
    assert result.code == "other_hospital"


@pytest.mark.parametrize("bad", [b"not dicom at all" * 20, b""])
def test_bad_input_is_rejected_with_the_file_name(web_sender, bad):
    result = ingest(bad, web_sender, name="scan.txt")
    assert (result.status, result.name) == (Outcome.REJECTED, "scan.txt")
    assert result.reason


@pytest.fixture
def batch(county_hospital):
    return Sender(hospital=county_hospital, source=Source.STOW, defer_index=True)


def ingest_batch(sender, *files: bytes):
    from viewer.ingest.services import ingest_flush

    results = [
        instance_ingest(
            fp=io.BytesIO(data), name=f"part {n}", size=len(data), sender=sender, flush=False
        )
        for n, data in enumerate(files, 1)
    ]
    assert all(r.instance_id is None for r in results if r.status == Outcome.ACCEPTED)
    ingest_flush(sender=sender)
    return results


def test_a_batch_is_indexed_in_one_go_and_counted(batch):
    study = make_dataset().StudyInstanceUID
    files = [make_file(study_uid=study, series_uid="1.2.9", instance_number=n) for n in range(20)]
    results = ingest_batch(batch, *files)
    assert {r.status for r in results} == {Outcome.ACCEPTED}
    ids = {r.instance_id for r in results}
    assert set(Instance.objects.values_list("id", flat=True)) == ids
    row = Study.objects.get(study_instance_uid=study)
    assert (row.number_of_series, row.number_of_instances, row.modalities) == (1, 20, "CT")


def test_a_batch_settles_duplicates_within_itself_and_against_the_index(batch, pacs_sender):
    stored_before = make_dataset()
    ingest(to_bytes(stored_before), pacs_sender)
    twice = make_dataset()
    changed = make_dataset(
        sop_uid=twice.SOPInstanceUID,
        study_uid=twice.StudyInstanceUID,
        series_uid=twice.SeriesInstanceUID,
        fill=7,
    )
    results = ingest_batch(
        batch, to_bytes(stored_before), to_bytes(twice), to_bytes(twice), to_bytes(changed)
    )
    assert [r.status for r in results] == [
        Outcome.ALREADY_STORED,
        Outcome.ACCEPTED,
        Outcome.ALREADY_STORED,
        Outcome.CONFLICT,
    ]
    assert Instance.objects.count() == 2
    assert IngestConflict.objects.get().existing.sop_instance_uid == twice.SOPInstanceUID
    assert results[1].instance_id == results[2].instance_id
