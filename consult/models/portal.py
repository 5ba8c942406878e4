"""Parent portal: a share link for one report version, sent to one guardian by SMS.

Only the SHA-256 of the link's token is stored; the one-time code is kept as an HMAC
(keyed with SECRET_KEY, because six digits alone are trivially searched).
"""

from django.conf import settings
from django.db import models
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from consult.models.reports import Report
from core.transitions import Rule, from_states


class ShareState(models.TextChoices):
    """A share's state, derived from its columns and its report (no status column: revoking,
    expiry, an amendment and the first opening each leave their own trace)."""

    SENT = "sent", _("Sent, not opened yet")
    OPENED = "opened", _("Opened")
    SUPERSEDED = "superseded", _("Superseded by an amendment")
    EXPIRED = "expired", _("Expired")
    REVOKED = "revoked", _("Revoked")


class ShareActor:
    STAFF = "staff"  # the referring hospital's doctors and the coordinators
    GUARDIAN = "guardian"  # whoever holds the link (then proves the birth date and the code)


_LIVE = (ShareState.SENT, ShareState.OPENED, ShareState.SUPERSEDED)

# What may be done with a share link, from which state (`consult.portal.services`). A revoked
# or expired link does nothing more; a superseded one leads to the current version's code.
SHARE_ACTIONS: dict[str, Rule] = {
    "revoke": Rule(
        _("revoke it"),
        from_states(_LIVE, ShareState.REVOKED),
        frozenset({ShareActor.STAFF}),
        _("Only the referring hospital or a coordinator can revoke this link."),
    ),
    "check_birth_date": Rule(
        _("confirm the date of birth"),
        from_states(_LIVE),
        frozenset({ShareActor.GUARDIAN}),
        _("Please open the link from your text message"),
    ),
    "send_code": Rule(
        _("send a code"),
        from_states(_LIVE),
        frozenset({ShareActor.GUARDIAN}),
        _("Please open the link from your text message"),
    ),
    "check_code": Rule(
        _("enter the code"),
        from_states(_LIVE),
        frozenset({ShareActor.GUARDIAN}),
        _("Please open the link from your text message"),
    ),
    "view": Rule(
        _("read the report"),
        from_states([ShareState.SENT, ShareState.OPENED], ShareState.OPENED),
        frozenset({ShareActor.GUARDIAN}),
        _("Please open the link from your text message"),
        refusals={ShareState.SUPERSEDED: _("There is a newer version")},
    ),
}


class PortalShare(models.Model):
    report = models.ForeignKey(
        "consult.Report", on_delete=models.PROTECT, related_name="portal_shares"
    )
    guardian = models.ForeignKey(
        "consult.Guardian",
        on_delete=models.PROTECT,
        related_name="portal_shares",
        verbose_name=_("guardian"),
    )
    # The child the link is scoped to (the report's child; checked again on every request).
    patient = models.ForeignKey("consult.Patient", on_delete=models.PROTECT, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The share for an older version this one replaced when the guardian opened the old link.
    previous = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("shared by"),
    )
    created_at = models.DateTimeField(_("shared"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), db_index=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )
    code_hash = models.CharField(max_length=64, blank=True, editable=False)
    code_expires_at = models.DateTimeField(null=True, blank=True)
    first_opened_at = models.DateTimeField(_("first opened"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last opened"), null=True, blank=True)
    open_count = models.PositiveIntegerField(_("times opened"), default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["report", "guardian"])]
        verbose_name = _("report shared with a guardian")
        verbose_name_plural = _("reports shared with guardians")

    def __str__(self) -> str:
        return f"share {self.pk} report {self.report_id} guardian {self.guardian_id}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= now()

    @property
    def is_usable(self) -> bool:
        return not self.is_revoked and not self.is_expired

    @property
    def state(self) -> str:
        if self.is_revoked:
            return ShareState.REVOKED
        if self.is_expired:
            return ShareState.EXPIRED
        if self.report.status == Report.Status.SUPERSEDED:
            return ShareState.SUPERSEDED
        if self.first_opened_at is not None:
            return ShareState.OPENED
        return ShareState.SENT
