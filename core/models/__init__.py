from core.models.audit import AppendOnlyError, AuditEvent
from core.models.notifications import Notification

__all__ = ["AppendOnlyError", "AuditEvent", "Notification"]
