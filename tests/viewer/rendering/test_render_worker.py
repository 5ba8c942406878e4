"""The ingest hook through a real Celery worker: the render cache is filled after commit."""

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from viewer.models import RenderInfo
from viewer.tasks import build_render_caches

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_worker_builds_the_cache_for_queued_instances(ct_study):
    queue = f"test-render-{uuid.uuid4().hex[:8]}"
    db = connection.settings_dict
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        MEDIA_ROOT=str(settings.MEDIA_ROOT),
        REDIS_URL=settings.REDIS_URL,
    )
    worker = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "celery"), "-A", "pedslink", "worker", "-Q", queue,
         "--concurrency", "1", "--pool", "solo", "--loglevel", "WARNING",
         "--hostname", f"{queue}@%h"],
        cwd=ROOT, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        ids = list(ct_study.series.first().instances.values_list("pk", flat=True))
        build_render_caches.apply_async(args=[ids], queue=queue)
        deadline = time.monotonic() + 90
        while RenderInfo.objects.filter(cached_at__isnull=False).count() < len(ids):
            assert time.monotonic() < deadline, "the worker did not build the cache"
            time.sleep(0.3)
    finally:
        worker.send_signal(signal.SIGTERM)  # warm shutdown: the running task finishes
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
    assert RenderInfo.objects.get(instance_id=ids[0]).info["rows"] == 64
