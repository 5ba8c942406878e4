import pytest
from django.core.cache import cache

from tests.factories import SeriesFactory, StudyFactory, store_dataset
from tests.viewer.dicom_data import ct_slice


@pytest.fixture(autouse=True)
def _media_and_cache(settings, tmp_path):
    # Stored DICOM and renders go to a per-test folder; audit de-duplication starts afresh.
    settings.MEDIA_ROOT = str(tmp_path / "media")
    cache.clear()


@pytest.fixture
def ct_study(child):
    """A county hospital CT of the child: one series of 5 slices, 64×64, 0.5 mm pixels."""
    study = StudyFactory(patient=child)
    series = SeriesFactory(study=study, frame_of_reference_uid="1.2.3.4")
    for i in range(5):
        store_dataset(ct_slice(study.study_instance_uid, series.series_instance_uid, i), series)
    return study
