"""/ws/referrals/<pk>/: status, schedule and timeline of one referral. No writes."""

from __future__ import annotations

from typing import Any

from consult.consumers import LiveConsumer
from core.realtime import object_group
from referrals.selectors import referrals_visible_to


class ReferralConsumer(LiveConsumer):
    def groups_for(self, user: Any, kwargs: dict[str, Any]) -> list[str] | None:
        pk = kwargs.get("pk")
        if not referrals_visible_to(user).filter(pk=pk).exists():
            return None
        return [object_group("referral", pk)]
