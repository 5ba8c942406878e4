import os
import subprocess
import sys

import pytest
from django.urls import reverse

from tests.processes import ROOT, celery_worker, subprocess_env, wait_for


@pytest.mark.worker
def test_healthz_is_200_with_everything_up_and_503_when_redis_stops(
    db, client, settings, private_redis, tmp_path
):
    settings.REDIS_URL = settings.CELERY_BROKER_URL = private_redis.url
    env = subprocess_env(REDIS_URL=private_redis.url)
    worker = celery_worker("health", env, tmp_path, concurrency=1).start()
    try:
        wait_for(lambda: client.get(reverse("healthz")).status_code == 200, timeout=60)
        body = client.get(reverse("healthz")).json()
        assert body == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "celery": "ok"}}
        private_redis.stop()
        response = client.get(reverse("healthz"))
        assert response.status_code == 503
        assert response.json()["checks"]["redis"].startswith("error")
        assert response.json()["checks"]["database"] == "ok"
    finally:
        worker.stop()


def test_healthz_is_503_when_no_worker_answers(db, client, settings, private_redis):
    settings.REDIS_URL = settings.CELERY_BROKER_URL = private_redis.url
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "redis": "ok",
        "celery": "error: no worker answered",
    }


def _settings_in_subprocess(env: dict[str, str], expression: str) -> subprocess.CompletedProcess:
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'pedslink.settings');"
        f"django.setup(); from django.conf import settings as s; print({expression})"
    )
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DEBUG", "SECRET_KEY"}
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        env=clean | env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_settings_come_from_the_environment():
    result = _settings_in_subprocess(
        {
            "DATABASE_URL": "postgres://u:p@db.example:5433/pl",
            "REDIS_URL": "redis://cache.example:6380/2",
            "SESSION_IDLE_MINUTES": "15",
            "DEBUG": "1",
        },
        "s.DATABASES['default']['HOST'], s.DATABASES['default']['PORT'], s.CELERY_BROKER_URL,"
        " s.SESSION_COOKIE_AGE, s.LANGUAGE_CODE, s.TIME_ZONE",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "db.example 5433 redis://cache.example:6380/2 900 zh-hans Asia/Shanghai"
    )


def test_defaults_are_sqlite_and_local_redis_for_one_machine():
    result = _settings_in_subprocess(
        {"REDIS_URL": "redis://127.0.0.1:6379/0"}, "s.DATABASES['default']['ENGINE'], s.REDIS_URL"
    )
    assert result.stdout.strip() == "django.db.backends.sqlite3 redis://127.0.0.1:6379/0"


def test_production_refuses_to_start_without_a_secret_key():
    result = _settings_in_subprocess({"DEBUG": "0"}, "s.DEBUG")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_turns_on_secure_cookies_and_hsts():
    result = _settings_in_subprocess(
        {"DEBUG": "0", "SECRET_KEY": "x" * 60, "PATIENT_ID_HMAC_KEY": "y" * 40},
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0,"
        " s.SECURE_SSL_REDIRECT, s.X_FRAME_OPTIONS",
    )
    assert result.stdout.strip() == "True True True True DENY"
