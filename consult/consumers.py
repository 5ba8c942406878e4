"""Websocket consumers: authenticate on connect, check the object permission, join groups,
forward pushed events. No writes. Origin is checked in asgi.py (AllowedHostsOriginValidator).

Other workflows subclass `LiveConsumer` and implement `groups_for(user, kwargs)`:
return the group names to join, or None to refuse the connection (close code 4404).
Every socket also joins its user's access group: a logout, a deactivation or a change of
the user's access closes it (4401 or 4403, core.revocation).
"""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user

from consult.models import Role, SpecialistSubspecialty
from core.realtime import (
    COORDINATORS,
    access_group,
    object_group,
    queue_group,
    session_digest,
    user_group,
)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class LiveConsumer(AsyncJsonWebsocketConsumer):
    joined: list[str]
    session: str = ""  # digest of this socket's session key (core.realtime.session_digest)
    ended: bool = False

    def groups_for(self, user: Any, kwargs: dict[str, Any]) -> list[str] | None:
        raise NotImplementedError

    async def connect(self) -> None:
        self.joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        # Every socket is in its user's access group, which a logout, a deactivation or an
        # access change closes (core.revocation). Joined first, then the session and the
        # user are read again: a change committed from now on closes this socket, one
        # committed before is seen here.
        self.joined = [access_group(user.pk)]
        await self.channel_layer.group_add(self.joined[0], self.channel_name)
        user = await database_sync_to_async(self._signed_in_user)(user.pk)
        if user is None:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return
        kwargs = self.scope.get("url_route", {}).get("kwargs", {})
        groups = await database_sync_to_async(self.groups_for)(user, kwargs)
        if groups is None:
            await self._refuse(CLOSE_NOT_FOUND)
            return
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined += groups
        await self.accept()

    def _signed_in_user(self, user_id: Any) -> Any:
        """The session's user as Django reads it now (the session not ended or expired, the
        user active, the password unchanged), if it is still `user_id`; else None."""
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        if not key:
            return None
        self.session = session_digest(key)
        engine = import_module(settings.SESSION_ENGINE)
        user = get_user(SimpleNamespace(session=engine.SessionStore(key)))  # type: ignore[arg-type]
        return user if user.is_authenticated and user.pk == user_id else None

    async def _refuse(self, code: int) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = []
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Clients only listen."""

    async def push(self, message: dict[str, Any]) -> None:
        if not self.ended:
            await self.send_json(message["event"])

    async def access_end(self, message: dict[str, Any]) -> None:
        """The user signed out, was deactivated or their access changed: close, with 4401
        (stay closed) or 4403 (reconnect, which checks access again)."""
        event = message["event"]
        if self.ended or (event["session"] and event["session"] != self.session):
            return  # a logout closes only the sockets of the session that ended
        self.ended = True
        await self.close(code=event["code"])


class UserLiveConsumer(LiveConsumer):
    """/ws/live/: the bell, and the lists of the user's role (worklist, dashboard, home)."""

    def groups_for(self, user: Any, kwargs: dict[str, Any]) -> list[str] | None:
        groups = [user_group(user.pk)]
        if user.role == Role.SPECIALIST:
            codes = SpecialistSubspecialty.objects.filter(specialist=user).values_list(
                "subspecialty", flat=True
            )
            groups += [queue_group(code) for code in codes]
        elif user.role == Role.COORDINATOR:
            groups.append(COORDINATORS)
        elif user.role == Role.REFERRING_DOCTOR and user.hospital_id:
            groups.append(object_group("hospital", user.hospital_id))
        if user.department_id:  # the receiving department's referral worklist (issue 6)
            groups.append(object_group("department", user.department_id))
        return groups
