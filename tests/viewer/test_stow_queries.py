"""What one STOW-RS request costs in queries, so that the count cannot creep back up."""

import pytest

from tests.viewer.dicom_builders import make_dataset, make_file
from tests.viewer.test_ingest_batching import stow_body
from viewer.models import Study
from viewer.services import integration_token_create


@pytest.fixture
def county_token(county_hospital, alliance_admin):
    return integration_token_create(
        hospital=county_hospital, name="County PACS", created_by=alliance_admin
    )[1]


def stow(client, token: str, files: list[bytes]) -> None:
    body, ctype = stow_body(files)
    response = client.post(
        "/dicomweb/studies",
        data=body,
        content_type=ctype,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_one_instance_for_a_begun_series_costs_four_queries(
    client, county_token, child, django_assert_num_queries
):
    study = make_dataset().StudyInstanceUID

    def file() -> bytes:
        return make_file(study_uid=study, series_uid="1.2.826.0.1.79")

    stow(client, county_token, [file()])  # the study and series now exist; the token cached
    # One look-up for the child by MRN, the study and the series; the instance's INSERT, the
    # counts' UPDATE and the audit row; and the transaction (in tests a savepoint and its
    # release, in production BEGIN and COMMIT).
    with django_assert_num_queries(6):
        stow(client, county_token, [file()])
    row = Study.objects.get(study_instance_uid=study)
    assert (row.number_of_instances, row.patient) == (2, child)


@pytest.mark.django_db
def test_one_instance_of_a_new_study_costs_two_queries_more(
    client, county_token, child, django_assert_num_queries
):
    stow(client, county_token, [make_file()])  # the token cached
    # As above, plus the study's and the series' INSERT … ON CONFLICT DO NOTHING (no
    # savepoints around them).
    with django_assert_num_queries(8):
        stow(client, county_token, [make_file()])
    assert Study.objects.count() == 2
    assert {s.number_of_series for s in Study.objects.all()} == {1}
