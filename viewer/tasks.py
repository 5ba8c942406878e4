"""Thin Celery tasks: they take ids and call a service. Services queue them by name
(`current_app.send_task`), never by importing this module, so the imports go one way only.
Names are explicit: the beat schedule and queued messages refer to them."""

from celery import shared_task

from viewer.ingest.orphans import orphans_sweep
from viewer.rendering.cache import build_for_instances
from viewer.rendering.queue import series_render_caches_build


@shared_task(
    bind=True,
    name="viewer.tasks.build_render_caches",
    acks_late=True,
    max_retries=5,
    autoretry_for=(Exception,),
    retry_backoff=True,
)
def build_render_caches(self, instance_ids: list[int]) -> None:  # noqa: ANN001
    """Thumbnails and default-window frames for freshly ingested instances (idempotent)."""
    build_for_instances(instance_ids)


@shared_task(name="viewer.orphans_sweep", ignore_result=True)
def orphans_sweep_task() -> int:
    """Stored DICOM files no row references, older than the grace period: deleted."""
    return len(orphans_sweep().deleted)


@shared_task(
    bind=True,
    name="viewer.tasks.build_series_render_caches",
    acks_late=True,
    max_retries=5,
    autoretry_for=(Exception,),
    retry_backoff=True,
)
def build_series_render_caches(self, series_id: int) -> None:  # noqa: ANN001
    """Render caches for a series' uncached instances, queued once per debounce window by
    ingest. While another worker builds the same series it comes back later (a new message,
    not a retry: the wait is bounded by the builder's lock, not by a retry count)."""
    if not series_render_caches_build(series_id=series_id):
        build_series_render_caches.apply_async(args=[series_id], countdown=5)
