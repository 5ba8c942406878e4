from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ViewerConfig(AppConfig):
    name = "viewer"
    verbose_name = _("Imaging")
    backup_key_models = ("Study", "Instance")  # see core.backup.key_models

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_save

        post_save.connect(_account_saved, sender=get_user_model(), dispatch_uid="token-cache")


def _account_saved(
    sender: type, instance: object, created: bool, update_fields: frozenset | None, **kw: object
) -> None:
    """An account saved (deactivated, moved to another hospital, its role changed): cached
    bearer-token resolutions are dropped (viewer.integrations.auth). A new account has no token
    cached yet, and a sign-in's last_login is not news."""
    if created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return
    from viewer.integrations.services import token_generation_bump

    token_generation_bump()
