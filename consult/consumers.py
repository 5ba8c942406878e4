"""Websocket consumers: authenticate on connect, check the object permission, join groups,
forward pushed events. No writes. Origin is checked in asgi.py (AllowedHostsOriginValidator).

Other workflows subclass `LiveConsumer` and implement `groups_for(user, kwargs)`:
return the group names to join, or None to refuse the connection (close code 4404).
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from consult.models import Role, SpecialistSubspecialty
from consult.realtime import COORDINATORS, object_group, queue_group, user_group
from consult.selectors import consultations_visible_to

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


class LiveConsumer(AsyncJsonWebsocketConsumer):
    joined: list[str]

    def groups_for(self, user: Any, kwargs: dict[str, Any]) -> list[str] | None:
        raise NotImplementedError

    async def connect(self) -> None:
        self.joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        kwargs = self.scope.get("url_route", {}).get("kwargs", {})
        groups = await database_sync_to_async(self.groups_for)(user, kwargs)
        if groups is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = groups
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Clients only listen."""

    async def push(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])


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


class ConsultationConsumer(LiveConsumer):
    """/ws/consultations/<pk>/: the thread, the status and timers, the report of one case."""

    def groups_for(self, user: Any, kwargs: dict[str, Any]) -> list[str] | None:
        pk = kwargs.get("pk")
        if not consultations_visible_to(user).filter(pk=pk).exists():
            return None
        return [object_group("consultation", pk)]
