from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsultConfig(AppConfig):
    name = "consult"
    verbose_name = _("Alliance and consultations")

    def ready(self) -> None:
        from core import auth_audit, revocation  # noqa: F401 - connect their receivers
