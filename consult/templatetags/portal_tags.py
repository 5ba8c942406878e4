"""The "shared with the family" panel on the consultation page (issue 7)."""

from typing import Any

from django import template

from consult.models import Consultation, Report
from consult.portal.selectors import may_manage_shares, shares_for_consultation

register = template.Library()


@register.inclusion_tag("portal/_staff_panel.html", takes_context=True)
def portal_panel(context: dict[str, Any], consultation: Consultation) -> dict[str, Any]:
    user = context["user"]
    current = consultation.reports.filter(status=Report.Status.SIGNED).order_by("-version").first()
    return {
        "c": consultation,
        "current": current,
        "shares": shares_for_consultation(consultation.pk),
        "guardians": list(consultation.patient.guardians.all()),
        "can_manage": current is not None and may_manage_shares(user, current),
        "csrf_token": context.get("csrf_token"),
    }
