"""The audit trail: one append-only table of who saw or changed what."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    pass


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):  # type: ignore[no-untyped-def]
        raise AppendOnlyError("audit events are append-only")

    def delete(self):  # type: ignore[no-untyped-def]
        raise AppendOnlyError("audit events are append-only")


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        VIEW = "view", _("View")
        CREATE = "create", _("Create")
        UPDATE = "update", _("Update")
        EXPORT = "export", _("Export")
        LOGIN = "login", _("Login")
        LOGIN_FAILED = "login_failed", _("Failed login")
        LOGOUT = "logout", _("Logout")
        DENIED = "denied", _("Denied")

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Success")
        FAILURE = "failure", _("Failure")

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    # Set instead of `user` when a guardian acts through a portal link.
    portal_token_id = models.CharField(_("portal token"), max_length=64, blank=True)
    username = models.CharField(_("username"), max_length=150, blank=True)
    role = models.CharField(_("role"), max_length=20, blank=True)
    hospital = models.ForeignKey(
        "consult.Hospital",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("hospital"),
    )
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    object_type = models.CharField(_("object type"), max_length=50, blank=True)
    object_id = models.CharField(_("object id"), max_length=128, blank=True)
    patient = models.ForeignKey(
        "consult.Patient",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("child"),
    )
    outcome = models.CharField(
        _("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=300, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        db_table = "consult_auditevent"  # the table it had in `consult` (moved, not copied)
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["patient", "at"]),
            models.Index(fields=["user", "at"]),
            models.Index(fields=["hospital", "at"]),
        ]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit trail")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.object_type}"

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AppendOnlyError("audit events are append-only")
