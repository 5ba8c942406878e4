"""The upload page in headless Chromium: a folder, a zip and a photo, then the summary."""

import io
import zipfile

import pytest
from PIL import Image

from tests.browser import browser_login
from tests.viewer.dicom_builders import make_dataset, make_file
from viewer.models import Instance, Study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def study_folder(tmp_path):
    folder = tmp_path / "CD" / "DICOM"
    folder.mkdir(parents=True)
    study = make_dataset().StudyInstanceUID
    for n in range(3):
        (folder / f"IM{n}").write_bytes(make_file(study_uid=study, instance_number=n))
    (folder / "README.TXT").write_bytes(b"not an image")
    return tmp_path / "CD", study


@pytest.fixture
def zip_file(tmp_path):
    path = tmp_path / "burned.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("A/IM1", make_file(accession="Z1"))
        archive.writestr("../evil", make_file())
    return path


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "film.jpg"
    out = io.BytesIO()
    Image.new("RGB", (300, 200), "gray").save(out, format="JPEG")
    path.write_bytes(out.getvalue())
    return path


def test_doctor_uploads_a_folder_a_zip_and_a_photo(
    page, live_server, county_doctor, password, child, study_folder, zip_file, photo
):
    folder, study = study_folder
    browser_login(page, live_server, county_doctor, password)
    page.goto(f"{live_server.url}/patients/{child.pk}/imaging/upload/")
    page.wait_for_selector("#uploader[data-ready='1']")
    page.set_input_files("input[name=dicom-folder]", str(folder))
    page.wait_for_selector("#summary:not([hidden])")
    page.set_input_files("input[name=dicom-files]", str(zip_file))
    page.wait_for_function("() => document.querySelectorAll('#files tr .result').length === 5")
    page.wait_for_selector("#summary:not([hidden])")
    page.set_input_files("input[name=photo-files]", str(photo))
    page.click("[data-action=rotate-right]")
    page.click("[data-action=photo-send]")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#files .result')].every(r => r.dataset.status)"
    )
    summary = page.locator("#summary")
    page.wait_for_function(
        "() => document.querySelector('[data-count=accepted]').textContent === '5'"
    )
    assert summary.locator("[data-count=rejected]").inner_text() == "2"
    rejections = page.locator("#rejections").inner_text()
    assert "CD/DICOM/README.TXT" in rejections and "burned.zip/../evil" in rejections
    assert page.locator("#retry").is_hidden()
    assert Study.objects.get(study_instance_uid=study).number_of_instances == 3
    film = Instance.objects.get(is_photo_of_film=True)
    assert (film.rows, film.columns) == (300, 200)  # rotated in the page

    # Starting again resumes: the folder's files are already held and not sent.
    page.reload()
    page.wait_for_selector("#uploader[data-ready='1']")
    page.set_input_files("input[name=dicom-folder]", str(folder))
    page.wait_for_function(
        "() => document.querySelector('[data-count=already_stored]').textContent === '3'"
    )
    assert Instance.objects.count() == 5

    # The child's page lists the three studies (folder, zip, photo), the photo labelled.
    page.goto(f"{live_server.url}/patients/{child.pk}/")
    assert page.locator("#studies tbody tr").count() == 3
    assert page.locator("#studies .film-label").count() == 1
