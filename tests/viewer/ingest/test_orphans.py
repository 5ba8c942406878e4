"""Stored DICOM files that no row references (a request died between store and index) are
deleted after the grace period; everything referenced, recent or not DICOM stays."""

import io
import os
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from tests.factories import SeriesFactory, StudyFactory, store_dataset
from tests.processes import (
    celery_beat,
    celery_worker,
    free_port,
    port_open,
    redis_server,
    subprocess_env,
    wait_for,
)
from tests.viewer.dicom_builders import make_dataset, make_file, to_bytes
from viewer import storage
from viewer.ingest.orphans import orphans_sweep
from viewer.ingest.services import instance_ingest
from viewer.models import IngestConflict

DAY = 24 * 3600


def age(key: str, seconds: float) -> None:
    """Make a stored file look `seconds` old (local storage: its modification time)."""
    when = time.time() - seconds
    os.utime(default_storage.path(key), (when, when))


def store_orphan(seconds_old: float) -> str:
    key = storage.store_file(io.BytesIO(make_file())).key
    age(key, seconds_old)
    return key


@pytest.fixture
def stored(db, web_sender):
    """An indexed instance, a conflict's kept-aside bytes, a render-cache entry and a
    consultation attachment, all two days old; and two orphans, one old and one fresh."""
    ds = make_dataset()
    first = to_bytes(ds)
    instance_ingest(fp=io.BytesIO(first), name="a", size=len(first), sender=web_sender)
    ds.StudyDescription = "other"
    data = to_bytes(ds)
    instance_ingest(fp=io.BytesIO(data), name="b", size=len(data), sender=web_sender)
    conflict = IngestConflict.objects.get()
    instance = conflict.existing
    other = store_dataset(make_dataset(), SeriesFactory(study=StudyFactory()))
    render = default_storage.save(f"render-cache/{instance.pk}-x/f1.png", ContentFile(b"png"))
    attachment = default_storage.save("attachments/2020/01/report.pdf", ContentFile(b"%PDF-"))
    keys = {
        "instance": instance.storage_key,
        "conflict": conflict.storage_key,
        "factory_instance": other.storage_key,
        "render": render,
        "attachment": attachment,
        "old_orphan": store_orphan(2 * DAY),
        "fresh_orphan": store_orphan(60),
    }
    for name in ("instance", "conflict", "factory_instance", "render", "attachment"):
        age(keys[name], 2 * DAY)
    return keys


def test_an_old_orphan_is_deleted_and_everything_else_kept(stored):
    report = orphans_sweep()
    assert report.deleted == [stored["old_orphan"]]
    assert not default_storage.exists(stored["old_orphan"])
    for name, key in stored.items():
        if name != "old_orphan":
            assert default_storage.exists(key), name
    assert report.too_recent == 1
    assert report.bytes_deleted > 0


def test_an_orphan_in_a_folder_from_long_ago_is_deleted_without_asking_its_age(db):
    key = default_storage.save("dicom/2020/01/02/abc.dcm", ContentFile(make_file()))
    assert orphans_sweep().deleted == [key]
    assert not default_storage.exists(key)


def test_the_grace_period_is_configurable(stored, settings):
    settings.IMAGING_ORPHAN_GRACE_HOURS = 72
    assert orphans_sweep().deleted == []
    assert default_storage.exists(stored["old_orphan"])


def test_the_command_dry_run_lists_and_deletes_nothing(stored):
    out = io.StringIO()
    call_command("imaging_orphans", "--dry-run", stdout=out)
    assert f"would delete {stored['old_orphan']}" in out.getvalue()
    assert "1 orphans removed" in out.getvalue()
    assert default_storage.exists(stored["old_orphan"])
    out = io.StringIO()
    call_command("imaging_orphans", "--grace-hours", "0.001", stdout=out)
    assert not default_storage.exists(stored["fresh_orphan"])
    assert not default_storage.exists(stored["old_orphan"])
    assert default_storage.exists(stored["instance"])


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_beat_schedule_runs_the_sweep_in_a_real_worker(tmp_path, media_root, web_sender):
    data = make_file()
    instance_ingest(fp=io.BytesIO(data), name="a", size=len(data), sender=web_sender)
    orphan = store_orphan(2 * DAY)
    port = free_port()
    redis = redis_server(port, tmp_path).start()
    procs = [redis]
    try:
        wait_for(lambda: port_open(port), 10, message="redis")
        env = subprocess_env(
            REDIS_URL=f"redis://127.0.0.1:{port}/0",
            MEDIA_ROOT=str(media_root),
            IMAGING_ORPHAN_SWEEP_SECONDS="1",
        )
        procs.append(celery_worker("orphans", env, tmp_path, concurrency=1).start())
        procs.append(celery_beat("orphans-beat", env, tmp_path).start())
        wait_for(
            lambda: not default_storage.exists(orphan),
            60,
            message=lambda: "\n".join(p.output()[-2000:] for p in procs),
        )
    finally:
        for proc in procs:
            proc.kill()
    from viewer.models import Instance

    assert default_storage.exists(Instance.objects.get().storage_key)
