"""/healthz: database, Redis and Celery worker, as JSON for load balancers and monitors."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from kombu.pidbox import Mailbox

from pedslink.celery import app as celery_app

TIMEOUT_S = 1.0


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "down"
        return f"error: {type(exc).__name__}"


def _redis() -> str:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S
        )
        client.ping()
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"


def _celery() -> str:
    # A mailbox of our own on a fresh connection: Celery's default control mailbox publishes
    # through the app's producer pool, which retries forever when the broker has gone away.
    mailbox = Mailbox(celery_app.conf.control_exchange, type="fanout", accept=["json"])
    try:
        with celery_app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=0, timeout=TIMEOUT_S)
            replies = mailbox(conn)._broadcast("ping", reply=True, timeout=TIMEOUT_S)
        return "ok" if replies else "error: no worker answered"
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database(), "redis": _redis()}
    checks["celery"] = _celery() if checks["redis"] == "ok" else "error: broker down"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "error", "checks": checks}, status=200 if healthy else 503
    )
