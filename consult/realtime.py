"""Websocket pushes, always after commit. Groups are named here so every app agrees.

Other workflows (referrals, portal) push with `push_after_commit(group, kind, **data)`;
pages listening on the group receive `{"kind": kind, ...data}`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

COORDINATORS = "coordinators"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def queue_group(subspecialty: str) -> str:
    """Specialists of a subspecialty watch its unassigned queue."""
    return f"queue.{subspecialty}"


def object_group(object_type: str, object_id: int | str) -> str:
    return f"{object_type}.{object_id}"


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _send(group: str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return

    def send() -> None:
        async_to_sync(layer.group_send)(group, {"type": "push", "event": event})

    try:
        if _loop_running():
            # Called from a thread that runs an event loop (a test driving Playwright):
            # async_to_sync refuses that thread, so send from a helper thread.
            helper = threading.Thread(target=send)
            helper.start()
            helper.join()
        else:
            send()
    except Exception:
        # A push is a hint to refresh; the page also polls on reconnect. Never fail a write.
        logger.warning("websocket push to %s failed", group, exc_info=True)


def push_after_commit(groups: str | list[str], kind: str, **data: Any) -> None:
    """Push `{"kind": kind, **data}` to each group once the current transaction commits."""
    names = [groups] if isinstance(groups, str) else list(dict.fromkeys(groups))
    event = {"kind": kind, **data}

    def send() -> None:
        for name in names:
            _send(name, event)

    transaction.on_commit(send)
