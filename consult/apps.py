from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsultConfig(AppConfig):
    name = "consult"
    verbose_name = _("Alliance and consultations")
    backup_key_models = ("Hospital", "User", "Patient", "Consultation", "Report")  # core.backup
