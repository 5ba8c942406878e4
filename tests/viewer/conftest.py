import pytest

from viewer.models import Source
from viewer.services import Sender


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Stored DICOM goes to a fresh folder per test."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def web_sender(county_doctor, child):
    return Sender(
        hospital=county_doctor.hospital, source=Source.WEB, user=county_doctor, patient=child
    )


@pytest.fixture
def pacs_sender(county_hospital):
    """A push from the county hospital's PACS: no person, no chosen child."""
    return Sender(hospital=county_hospital, source=Source.CSTORE)
