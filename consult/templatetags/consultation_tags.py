from __future__ import annotations

from typing import Any

from django import template
from django.utils.timezone import now

from consult.ages import pediatric_age
from consult.consultations.selectors import home_context
from consult.consultations.sla import time_left_text
from core.notify import unread_count

register = template.Library()


@register.filter
def time_left(standing: Any) -> str:
    return time_left_text(standing.left) if standing else ""


@register.filter
def child_age(patient: Any) -> str:
    return pediatric_age(patient.birth_date, now().date())


@register.simple_tag(takes_context=True)
def bell_unread(context: dict) -> int:
    user = context.get("user")
    return unread_count(user) if user is not None and user.is_authenticated else 0


@register.filter
def field_value(data: dict, name: str) -> str:
    return (data or {}).get(name, "")


@register.inclusion_tag("consult/consultations/_home_live.html", takes_context=True)
def consultation_home(context: dict) -> dict:
    """The role's live consultation block for the home page."""
    return {
        **home_context(context["user"]),
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
    }
