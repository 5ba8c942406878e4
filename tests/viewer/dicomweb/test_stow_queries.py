"""What one STOW-RS request costs in queries, so that the count cannot creep back up."""

import pytest

from tests.viewer.dicom_builders import make_dataset, make_file
from tests.viewer.ingest.test_ingest_batching import stow_queries
from viewer.models import Study


@pytest.mark.django_db
def test_one_instance_for_a_begun_series_costs_four_queries(client, county_token, child):
    study = make_dataset().StudyInstanceUID

    def file() -> bytes:
        return make_file(study_uid=study, series_uid="1.2.826.0.1.79")

    stow_queries(client, county_token, [file()])  # the study and series now exist; the token cached
    # One look-up for the child by MRN, the study and the series; the instance's INSERT, the
    # counts' UPDATE and the audit row; and the transaction (in tests a savepoint and its
    # release, in production BEGIN and COMMIT).
    assert stow_queries(client, county_token, [file()]) == 6
    row = Study.objects.get(study_instance_uid=study)
    assert (row.number_of_instances, row.patient) == (2, child)


@pytest.mark.django_db
def test_one_instance_of_a_new_study_costs_two_queries_more(client, county_token, child):
    stow_queries(client, county_token, [make_file()])  # the token cached
    # As above, plus the study's and the series' INSERT … ON CONFLICT DO NOTHING (no
    # savepoints around them).
    assert stow_queries(client, county_token, [make_file()]) == 8
    assert Study.objects.count() == 2
    assert {s.number_of_series for s in Study.objects.all()} == {1}
