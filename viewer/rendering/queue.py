"""The render-cache queue: ingest asks for a series' caches once per debounce window, a
worker builds what is not cached yet. Redis holds the "queued" flag and the builder's lock."""

from __future__ import annotations

from collections.abc import Iterable

from celery import current_app
from django.conf import settings
from django.db.models import Q

from pedslink.redis_client import shared_redis
from viewer.models import Instance
from viewer.rendering.cache import build_for_instances

# The tasks are sent by name: viewer.tasks imports this module (a task calls a service), so
# this module does not import viewer.tasks.
BUILD_TASK = "viewer.tasks.build_render_caches"
BUILD_SERIES_TASK = "viewer.tasks.build_series_render_caches"
# Render caches are queued once per series per debounce window (see ingest_flush in
# viewer.ingest.services). The flag outlives a lost task by at most this long; the lock bounds
# a crashed builder's hold.
RENDER_QUEUED_TTL = 600
RENDER_LOCK_TTL = 600


def render_caches_queue(*, series_ids: Iterable[int]) -> None:
    """Queue the render-cache task of each series unless one is already queued: one task per
    series per debounce window instead of one per request (a Redis SET NX each). The task
    clears the flag before it looks for uncached instances, so an instance committed before
    a refused SET is always seen by a task that starts after it."""
    for series_id in sorted(series_ids):
        if shared_redis().set(_render_queued_key(series_id), 1, nx=True, ex=RENDER_QUEUED_TTL):
            current_app.send_task(
                BUILD_SERIES_TASK,
                args=[series_id],
                countdown=settings.IMAGING_RENDER_DEBOUNCE_SECONDS,
            )


def series_render_caches_build(*, series_id: int) -> bool:
    """The task's body: render caches for every instance of the series not cached yet (and
    the series thumbnail). False when another worker is building this series: the task is
    then queued again for later, since that worker may have looked before these arrived."""
    client = shared_redis()
    lock = f"pedslink:viewer:render-building:{series_id}"
    if not client.set(lock, 1, nx=True, ex=RENDER_LOCK_TTL):
        return False
    try:
        client.delete(_render_queued_key(series_id))
        uncached = Instance.objects.filter(series_id=series_id).filter(
            Q(render_info__isnull=True) | Q(render_info__cached_at=None, render_info__problem="")
        )
        if ids := list(uncached.order_by("pk").values_list("pk", flat=True)):
            build_for_instances(ids)
    finally:
        client.delete(lock)
    return True


def _render_queued_key(series_id: int) -> str:
    return f"pedslink:viewer:render-queued:{series_id}"


def instance_render_caches_queue(*, instance_ids: list[int]) -> None:
    """Queue the render caches of these instances (a replaced version, say) right away."""
    current_app.send_task(BUILD_TASK, args=[instance_ids])
