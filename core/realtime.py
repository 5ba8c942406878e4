"""Websocket pushes, always after commit. Groups are named here so every app agrees.

Other workflows (referrals, portal) push with `push_after_commit(group, kind, **data)`;
pages listening on the group receive `{"kind": kind, ...data}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
from typing import Any

from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

COORDINATORS = "coordinators"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def access_group(user_id: int) -> str:
    """Every socket of a user, whatever page opened it: closed when their access ends."""
    return f"access.{user_id}"


def queue_group(subspecialty: str) -> str:
    """Specialists of a subspecialty watch its unassigned queue."""
    return f"queue.{subspecialty}"


def object_group(object_type: str, object_id: int | str) -> str:
    return f"{object_type}.{object_id}"


_loop: asyncio.AbstractEventLoop | None = None
_loop_pid = 0
_loop_lock = threading.Lock()


def _push_loop() -> asyncio.AbstractEventLoop:
    """One event loop per process, in a daemon thread, for every push from sync code.

    Reusing the loop keeps the channel layer's Redis connections open (async_to_sync would
    make a loop, and a connection, per push) and works from threads that run their own loop.
    """
    global _loop, _loop_pid
    with _loop_lock:
        if _loop is None or _loop_pid != os.getpid():  # a forked worker needs its own
            _loop = asyncio.new_event_loop()
            _loop_pid = os.getpid()
            threading.Thread(target=_loop.run_forever, name="websocket-push", daemon=True).start()
        return _loop


def _send(groups: list[str], event: dict[str, Any], message_type: str = "push") -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    async def send_all() -> None:
        for group in groups:
            await layer.group_send(group, {"type": message_type, "event": event})

    try:
        asyncio.run_coroutine_threadsafe(send_all(), _push_loop()).result(timeout=5)
    except Exception:
        # A push is a hint to refresh; pages also refetch on reconnect. Never fail a write.
        logger.warning("websocket push to %s failed", ", ".join(groups), exc_info=True)


def push_after_commit(groups: str | list[str], kind: str, **data: Any) -> None:
    """Push `{"kind": kind, **data}` to each group once the current transaction commits."""
    names = [groups] if isinstance(groups, str) else list(dict.fromkeys(groups))
    event = {"kind": kind, **data}

    transaction.on_commit(lambda: _send(names, event))


def session_digest(session_key: str) -> str:
    """Names one session in a close event without sending its key through Redis."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def close_sockets_after_commit(user_id: int, *, code: int, session: str = "") -> None:
    """Close the user's open sockets with `code` once the current transaction commits; with
    `session` (a digest of one session key, see `session_digest`), only that session's."""
    event = {"code": code, "session": session}
    transaction.on_commit(lambda: _send([access_group(user_id)], event, "access.end"))
