"""`make run` is a trial on one machine: DEBUG off, keys made once per install, and every
process's links point at the web server (README, "A trial on one machine", "Absolute links")."""

import os
import subprocess
import sys

import pytest
from django.core import mail

from core.notify import notification_create, notification_deliver
from tests.processes import ROOT

OLD_REPOSITORY_KEY = "dev-only-insecure-secret-key-change-me-0123456789abcdefghijklmnop"
TRIAL_VARIABLES = {
    "DEBUG",
    "SITE_URL",
    "SECRETS_DIR",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECRET_KEY",
    "PATIENT_ID_HMAC_KEY",
}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TRIAL_VARIABLES}
    env = {k: v for k, v in env.items() if not k.startswith("MAKE")}
    return env | extra


def test_the_worker_that_make_run_starts_links_to_the_web_port(tmp_path):
    """honcho gives each process its own PORT (the worker's is the web's + 100): the
    Makefile fixes SITE_URL to the web address before it starts them, the Procfile's way."""
    procfile = tmp_path / "Procfile"
    procfile.write_text(
        "web: tail -f /dev/null\n"
        "worker: echo PORT=$PORT SITE_URL=$SITE_URL DEBUG=$DEBUG"
        " SECURE_SSL_REDIRECT=$SECURE_SSL_REDIRECT SECRETS_DIR=$SECRETS_DIR\n"
    )
    result = subprocess.run(
        ["make", "-s", "--no-print-directory", "start", f"PROCFILE={procfile}", "PORT=18150"],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (
        f"PORT=18250 SITE_URL=http://127.0.0.1:18150 DEBUG=0 SECURE_SSL_REDIRECT=0"
        f" SECRETS_DIR={ROOT}/var/secrets" in result.stdout
    ), result.stdout + result.stderr


def test_a_staff_email_links_to_site_url(specialist, settings):
    settings.SITE_URL = "http://127.0.0.1:18150"
    rows = notification_create(
        recipients=[specialist], kind="test", subject="新病例", body="病例", url="/consultations/1/"
    )
    for row in rows:
        notification_deliver(notification_id=row.pk)
    assert "http://127.0.0.1:18150/consultations/1/" in mail.outbox[0].body


def _secret_key(env: dict[str, str]) -> subprocess.Popen:
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.SECRET_KEY, s.PATIENT_ID_HMAC_KEY, s.DEBUG)"
    )
    return subprocess.Popen(
        [sys.executable, "-c", code], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True
    )


def test_processes_started_together_make_and_share_one_key_pair(tmp_path):
    env = clean_env(
        DEBUG="0", SECRETS_DIR=str(tmp_path / "secrets"), DJANGO_SETTINGS_MODULE="pedslink.settings"
    )
    started = [_secret_key(env) for _ in range(4)]
    answers = {p.communicate(timeout=60)[0].strip() for p in started}
    assert all(p.returncode == 0 for p in started)
    [answer] = answers
    secret_key, hmac_key, debug = answer.split()
    assert debug == "False" and secret_key != hmac_key
    assert OLD_REPOSITORY_KEY not in (secret_key, hmac_key)
    assert (tmp_path / "secrets" / "secret_key").read_text().strip() == secret_key


@pytest.mark.parametrize("path", ["Procfile", "docker/Dockerfile", "tests/processes.py"])
def test_uvicorn_leaves_forwarded_headers_to_django(path):
    """uvicorn would believe X-Forwarded-For from 127.0.0.1 itself; TRUSTED_PROXIES decides."""
    text = (ROOT / path).read_text()
    assert "uvicorn" in text and "--proxy-headers" not in text
    assert "--no-proxy-headers" in text
