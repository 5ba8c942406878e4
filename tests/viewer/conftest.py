from types import SimpleNamespace

import pytest
from django.core.cache import cache

from tests.factories import SeriesFactory, StudyFactory, store_dataset
from tests.processes import free_port, port_open, subprocess_env, uvicorn_server, wait_for
from tests.viewer.dicom_data import ct_slice
from viewer.models import Source
from viewer.services import Sender, integration_token_create


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Stored DICOM goes to a fresh folder per test."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    cache.clear()  # access and audit de-duplication start afresh
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


@pytest.fixture
def server(transactional_db, media_root, tmp_path):
    """uvicorn with pedslink.asgi against the test database, Redis and stored files."""
    port = free_port()
    env = subprocess_env(MEDIA_ROOT=str(media_root), SITE_URL=f"http://127.0.0.1:{port}")
    process = uvicorn_server(port, env, tmp_path).start()
    try:
        wait_for(lambda: port_open(port), 30, message=lambda: "uvicorn\n" + process.output())
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}", port=port, process=process)
    finally:
        process.kill()
