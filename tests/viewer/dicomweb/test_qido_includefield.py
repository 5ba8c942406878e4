"""QIDO-RS includefield (PS3.18 §8.3.4.3): keywords and tags, comma-separated and
repeated, `all` for what the index holds, other attributes read from a stored header."""

import io

import pytest

from tests.viewer.dicom_builders import make_dataset, to_bytes
from viewer.ingest.services import instance_ingest


def ingest(ds, sender):
    data = to_bytes(ds)
    result = instance_ingest(fp=io.BytesIO(data), name="x", size=len(data), sender=sender)
    assert result.status == "accepted", result.reason


@pytest.fixture
def study(web_sender):
    ds = make_dataset(study_date="20261102")
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.InstitutionName = "县医院"
    ds.ReferringPhysicianName = "Zhang^Wei=张^伟"
    ds.StudyComments = "follow-up"
    ds.FrameOfReferenceUID = "1.2.3.4.5"
    ingest(ds, web_sender)
    return ds


def qido(client, path, query):
    response = client.get(f"/dicomweb/{path}?{query}")
    assert response.status_code == 200, response.content
    return response


def test_keywords_and_tags_comma_separated_and_repeated(login, county_doctor, study):
    client = login(county_doctor)
    query = "includefield=InstitutionName,00100030&includefield=ReferringPhysicianName"
    [row] = qido(client, "studies", query).json()
    assert row["00080080"] == {"vr": "LO", "Value": ["县医院"]}  # from the index
    assert row["00100030"] == {"vr": "DA", "Value": ["20240315"]}  # from the stored header
    assert row["00080090"]["Value"][0]["Ideographic"] == "张^伟"
    assert "00324000" not in row  # not asked


def test_all_adds_every_indexed_attribute_and_reads_no_header(login, county_doctor, study):
    client = login(county_doctor)
    [row] = qido(client, "studies", "includefield=all").json()
    assert row["00080080"]["Value"] == ["县医院"]
    assert "00100030" not in row and "00080090" not in row
    [series] = qido(client, f"studies/{study.StudyInstanceUID}/series", "includefield=all").json()
    assert series["00200052"]["Value"] == ["1.2.3.4.5"]
    assert series["00080020"]["Value"] == ["20261102"]  # the study's date, on the series
    [instance] = qido(client, "instances", "includefield=all").json()
    assert instance["00280030"] == {"vr": "DS", "Value": [0.5, 0.5]}
    assert instance["00083002"]["Value"] == ["1.2.840.10008.1.2.1"]
    assert instance["0008103E"]["Value"] == ["Axial"]


def test_instance_level_reads_the_instances_own_header(login, county_doctor, study):
    [row] = qido(login(county_doctor), "instances", "includefield=StudyComments").json()
    assert row["00324000"] == {"vr": "LT", "Value": ["follow-up"]}


def test_an_unknown_attribute_is_a_400_that_names_it(login, county_doctor, study):
    response = login(county_doctor).get("/dicomweb/studies?includefield=NoSuchThing")
    assert response.status_code == 400
    assert "NoSuchThing" in response.json()["detail"]


def test_header_reads_are_bounded_and_the_answer_says_so(
    login, county_doctor, study, web_sender, settings
):
    ingest(make_dataset(study_date="20261101"), web_sender)
    settings.QIDO_MAX_HEADER_READS = 1
    response = qido(login(county_doctor), "studies", "includefield=PatientBirthDate")
    first, second = response.json()
    assert "00100030" in first and "00100030" not in second
    assert "first 1 results" in response["Warning"]


def test_an_outsider_gets_no_header_attributes(login, outsider, study):
    assert qido(login(outsider), "studies", "includefield=PatientBirthDate").json() == []
