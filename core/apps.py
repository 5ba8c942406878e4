from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    """The base layer: audit, realtime pushes, the notification outbox, SMS, the deadline
    sweep, middleware, health and backups. It imports no feature app."""

    name = "core"
    verbose_name = _("Base")
    backup_key_models = ("AuditEvent",)  # see core.backup.key_models

    def ready(self) -> None:
        from core import auth_audit, revocation  # noqa: F401 - connect their receivers
