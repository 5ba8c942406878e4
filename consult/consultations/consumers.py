"""The websocket of one consultation's page (the generic consumer: consult.consumers)."""

from __future__ import annotations

from typing import Any

from consult.consumers import LiveConsumer
from consult.selectors import consultations_visible_to
from core.realtime import object_group


class ConsultationConsumer(LiveConsumer):
    """/ws/consultations/<pk>/: the thread, the status and timers, the report of one case."""

    def groups_for(self, user: Any, kwargs: dict[str, Any]) -> list[str] | None:
        pk = kwargs.get("pk")
        if not consultations_visible_to(user).filter(pk=pk).exists():
            return None
        return [object_group("consultation", pk)]
