import pytest

from tests.factories import SeriesFactory, StudyFactory, store_dataset
from tests.viewer.dicom_data import ct_slice
from viewer.ingest.services import Sender
from viewer.integrations.services import integration_token_create
from viewer.models import Source


@pytest.fixture(autouse=True)
def _stored_files(media_root):
    """Every viewer test stores its DICOM in a fresh folder (tests/conftest.py)."""
    return media_root


@pytest.fixture
def web_sender(county_doctor, child):
    return Sender(
        hospital=county_doctor.hospital, source=Source.WEB, user=county_doctor, patient=child
    )


@pytest.fixture
def pacs_sender(county_hospital):
    """A push from the county hospital's PACS: no person, no chosen child."""
    return Sender(hospital=county_hospital, source=Source.CSTORE)


@pytest.fixture
def ct_study(child):
    """A county hospital CT of the child: one series of 5 slices, 64×64, 0.5 mm pixels."""
    study = StudyFactory(patient=child)
    series = SeriesFactory(study=study, frame_of_reference_uid="1.2.3.4")
    for i in range(5):
        store_dataset(ct_slice(study.study_instance_uid, series.series_instance_uid, i), series)
    return study


@pytest.fixture
def county_token(county_hospital, alliance_admin):
    """The secret of an integration token of the county hospital (its PACS)."""
    return integration_token_create(
        hospital=county_hospital, name="County PACS", created_by=alliance_admin
    )[1]
