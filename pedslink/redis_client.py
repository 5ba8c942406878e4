"""The process's Redis client for application data (flags, locks, counters).

One client, with its connection pool, per process and URL: Django's cache backend is per
request context under ASGI, which means a new Redis connection for every request.
"""

from __future__ import annotations

import functools

import redis
from django.conf import settings


def shared_redis() -> redis.Redis:
    """The client for settings.REDIS_URL (read at call time, so tests can point it
    elsewhere)."""
    return _client(settings.REDIS_URL)


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)
