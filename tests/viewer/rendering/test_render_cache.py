"""The render cache and the Celery task that fills it on ingest."""

import pytest
from django.core.files.storage import default_storage

from tests.factories import SeriesFactory, StudyFactory, store_dataset
from tests.viewer.dicom_data import ct_slice, rgb_photo, us_multiframe
from viewer.models import RenderInfo
from viewer.rendering import cache as render_cache
from viewer.rendering.render import RenderOptions
from viewer.tasks import build_render_caches

pytestmark = pytest.mark.django_db


def cached_names(instance):
    prefix = render_cache.cache_key(instance, "")
    _dirs, files = default_storage.listdir(prefix)
    return sorted(files)


def test_task_builds_default_frames_16bit_forms_and_thumbnail(ct_study):
    instances = list(ct_study.series.first().instances.order_by("instance_number"))
    build_render_caches.apply(args=[[i.pk for i in instances]]).get()
    for instance in instances:
        names = cached_names(instance)
        assert "f0q85.jpeg" in names
        assert "f0.u16.gz" in names and "f0.u16.json" in names  # what the viewer windows
        assert RenderInfo.objects.get(instance=instance).cached_at is not None
    middle = instances[len(instances) // 2]
    assert "f0v128x128q80.jpeg" in cached_names(middle)  # the series thumbnail
    assert "f0v128x128q80.webp" in cached_names(middle)  # as browsers' Accept asks for it


def test_task_is_idempotent(ct_study):
    ids = list(ct_study.series.first().instances.values_list("pk", flat=True))
    build_render_caches.apply(args=[ids]).get()
    first = {i: cached_names(i) for i in ct_study.series.first().instances.all()}
    build_render_caches.apply(args=[ids]).get()
    assert {i: cached_names(i) for i in ct_study.series.first().instances.all()} == first


def test_after_the_task_requests_do_not_decode(ct_study, monkeypatch):
    instance = ct_study.series.first().instances.first()
    build_render_caches.apply(args=[[instance.pk]]).get()

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded on the request path")

    monkeypatch.setattr(render_cache, "load_dataset", no_decoding)
    assert render_cache.rendered(instance, RenderOptions()).from_cache
    result, meta = render_cache.modality16(instance, 0, "u16")
    assert result.from_cache and meta["offset"] == 32768
    assert (meta["rows"], meta["columns"]) == (64, 64)


def test_every_frame_of_a_multiframe_is_cached(child):
    study = StudyFactory(patient=child)
    series = SeriesFactory(study=study, modality="US")
    inst = store_dataset(
        us_multiframe(study.study_instance_uid, series.series_instance_uid), series
    )
    build_render_caches.apply(args=[[inst.pk]]).get()
    names = cached_names(inst)
    assert all(f"f{i}q85.jpeg" in names for i in range(8))


def test_colour_gets_no_16bit_form(child):
    study = StudyFactory(patient=child)
    series = SeriesFactory(study=study)
    inst = store_dataset(rgb_photo(study.study_instance_uid, series.series_instance_uid), series)
    build_render_caches.apply(args=[[inst.pk]]).get()
    assert cached_names(inst) == sorted(["f0q85.jpeg", "f0v128x128q80.jpeg", "f0v128x128q80.webp"])


def test_unreadable_file_is_recorded_not_retried_forever(child):
    study = StudyFactory(patient=child)
    series = SeriesFactory(study=study)
    inst = store_dataset(ct_slice(study.study_instance_uid, series.series_instance_uid, 0), series)
    default_storage.delete(inst.storage_key)
    build_render_caches.apply(args=[[inst.pk]]).get()
    assert RenderInfo.objects.get(instance=inst).problem == "The stored file is missing."


def test_cache_keys_do_not_contain_uids(ct_study):
    instance = ct_study.series.first().instances.first()
    key = render_cache.cache_key(instance, "f0q85.jpeg")
    assert instance.sop_instance_uid not in key
    assert ct_study.study_instance_uid not in key
