from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from referrals.models import Referral, ReferralEvent, ReferralPolicy
from referrals.services import referral_policy_update


@admin.register(ReferralPolicy)
class ReferralPolicyAdmin(admin.ModelAdmin):
    """The deadline policy is data; saving goes through the service so that running
    deadlines move with it (the alliance admin edits it here)."""

    list_display = ["urgency", "accept_seconds", "schedule_seconds", "escalate_seconds"]
    fields = ["urgency", "accept_seconds", "schedule_seconds", "escalate_seconds", "working_days"]

    def save_model(
        self, request: HttpRequest, obj: ReferralPolicy, form: Any, change: bool
    ) -> None:
        saved = referral_policy_update(
            actor=request.user,
            urgency=obj.urgency,
            accept_seconds=obj.accept_seconds,
            schedule_seconds=obj.schedule_seconds,
            escalate_seconds=obj.escalate_seconds,
            working_days=obj.working_days,
        )
        obj.pk = saved.pk


class EventInline(admin.TabularInline):
    model = ReferralEvent
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in ReferralEvent._meta.fields]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    """Read-only: a referral changes only through referrals.services."""

    list_display = ["pk", "patient", "source_hospital", "receiving_department", "status"]
    list_filter = ["status", "urgency"]
    list_select_related = ["patient", "source_hospital", "receiving_department"]
    inlines = [EventInline]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
