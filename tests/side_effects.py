"""What a refused action must not leave behind, whatever the workflow."""

from core.audit import Action
from core.models import AuditEvent, Notification


def side_effects() -> dict:
    """The outbox and the audit rows of changes (a refusal writes only a denied row)."""
    return {
        "outbox": list(Notification.objects.values_list("pk", flat=True)),
        "audit_of_changes": list(
            AuditEvent.objects.exclude(action__in=[Action.DENIED, Action.LOGIN]).values_list(
                "pk", flat=True
            )
        ),
    }
