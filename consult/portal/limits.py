"""Attempt limits for the parent portal, kept in Redis so that every web process shares them.

A failed date of birth or code counts against the link and against the client address;
at PORTAL_MAX_ATTEMPTS failures either one is locked for PORTAL_LOCK_MINUTES. If Redis
cannot be reached the portal refuses to check anything (fails closed): a limiter that
silently stops counting would let a guesser through.
"""

from __future__ import annotations

import functools

import redis
from django.conf import settings


class LimiterUnavailable(Exception):
    """The attempt store cannot be reached; the caller must refuse the attempt."""


def max_attempts() -> int:
    return int(getattr(settings, "PORTAL_MAX_ATTEMPTS", 5))


def lock_seconds() -> int:
    return max(int(float(getattr(settings, "PORTAL_LOCK_MINUTES", 15)) * 60), 1)


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    # Only the connection pool is cached here; the counts live in Redis.
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def _redis() -> redis.Redis:
    return _client(getattr(settings, "PORTAL_LIMIT_REDIS_URL", "") or settings.REDIS_URL)


def _keys(share_id: int, ip: str | None) -> list[str]:
    return [f"portal:fail:link:{share_id}", f"portal:fail:ip:{ip or 'unknown'}"]


def attempt_take(*, share_id: int, ip: str | None) -> int | None:
    """Reserve one try against the link and the address before the answer is checked, so
    that parallel requests cannot get more tries than allowed. Returns the tries left after
    this one, or None when the link or the address is locked (the answer must not be read).
    """
    window = lock_seconds()
    try:
        pipe = _redis().pipeline()
        for key in _keys(share_id, ip):
            pipe.incr(key)
            # Every try restarts the window, so a lock lasts the full time after the last one.
            pipe.expire(key, window)
        results = pipe.execute()
    except redis.RedisError as exc:
        raise LimiterUnavailable from exc
    used = max(results[0], results[2])
    if used > max_attempts():
        return None
    return max_attempts() - used


def attempt_give_back(*, share_id: int, ip: str | None) -> None:
    """The answer was right: the reserved try does not count."""
    try:
        pipe = _redis().pipeline()
        for key in _keys(share_id, ip):
            pipe.decr(key)
        pipe.execute()
    except redis.RedisError as exc:
        raise LimiterUnavailable from exc


def attempts_reset(*, share_id: int) -> None:
    """The guardian got in: the link's count starts again (the address's count stays)."""
    try:
        _redis().delete(_keys(share_id, None)[0])
    except redis.RedisError as exc:
        raise LimiterUnavailable from exc


def code_send_allowed(*, share_id: int) -> bool:
    """At most PORTAL_CODE_SENDS_PER_HOUR codes per link: nobody can flood a parent's phone."""
    key = f"portal:sends:link:{share_id}"
    try:
        pipe = _redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, 3600, nx=True)
        sent = pipe.execute()[0]
    except redis.RedisError as exc:
        raise LimiterUnavailable from exc
    return sent <= int(getattr(settings, "PORTAL_CODE_SENDS_PER_HOUR", 5))
