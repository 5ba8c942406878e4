"""Stored DICOM files: the local storage writes them directly once Django made the folder;
every other storage goes through Django's storage API."""

import io
import os
import stat

from django.core.files.storage import default_storage

from tests.viewer.dicom_builders import make_file
from viewer import storage


def test_local_files_after_the_first_of_a_folder_are_written_directly_with_django_modes(
    settings, media_root
):
    settings.FILE_UPLOAD_PERMISSIONS = 0o640
    data = make_file()
    first = storage.store_file(io.BytesIO(data))
    second = storage.store_file(io.BytesIO(data))
    assert os.path.dirname(first.key) == os.path.dirname(second.key)
    assert first.key != second.key
    for stored in (first, second):
        with storage.open_stored(stored.key) as fp:
            written = fp.read()
        assert written[:128] == b"\0" * 128 and written[128:] == data[128:]
        assert stored.size == len(data)
        assert stored.sha256 == storage.hash_zeroed(io.BytesIO(data))
        mode = os.stat(default_storage.path(stored.key)).st_mode
        assert stat.S_IMODE(mode) == 0o640


def test_a_removed_folder_is_made_again(media_root):
    first = storage.store_file(io.BytesIO(make_file()))
    storage.delete_stored(first.key)
    os.rmdir(os.path.dirname(default_storage.path(first.key)))
    again = storage.store_file(io.BytesIO(make_file()))
    assert default_storage.exists(again.key)


def test_other_storages_are_written_through_the_storage_api(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    data = make_file()
    stored = [storage.store_file(io.BytesIO(data)) for _ in range(2)]
    for item in stored:
        assert default_storage.__class__.__name__ == "InMemoryStorage"
        with storage.open_stored(item.key) as fp:
            assert fp.read()[128:] == data[128:]
