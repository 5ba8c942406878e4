"""Structured reports: versions, signing, amendments. A signed version never changes."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TransferUrgency(models.TextChoices):
    EMERGENCY = "emergency", _("Emergency")
    URGENT = "urgent", _("Urgent")
    ELECTIVE = "elective", _("Elective")


class Report(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SIGNED = "signed", _("Signed")
        SUPERSEDED = "superseded", _("Superseded by an amendment")

    consultation = models.ForeignKey(
        "consult.Consultation", on_delete=models.CASCADE, related_name="reports"
    )
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    template = models.CharField(_("template"), max_length=20)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    # The template's structured fields (Graf type, tumour axes, segmental findings...).
    data = models.JSONField(default=dict, blank=True)
    findings = models.TextField(_("findings"), blank=True)
    impression = models.TextField(_("impression"), blank=True)
    recommendation = models.TextField(_("recommendation"), blank=True)
    transfer_recommended = models.BooleanField(_("transfer recommended"), default=False)
    transfer_urgency = models.CharField(
        _("transfer urgency"), max_length=10, choices=TransferUrgency.choices, blank=True
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amendment_reason = models.CharField(_("reason for amendment"), max_length=500, blank=True)
    # Optimistic lock: a save must name the edit it started from.
    edit_version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    signed_at = models.DateTimeField(_("signed"), null=True, blank=True)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["consultation", "version"]
        constraints = [
            models.UniqueConstraint(fields=["consultation", "version"], name="uniq_report_version"),
            models.UniqueConstraint(
                fields=["consultation"],
                condition=models.Q(status="draft"),
                name="one_draft_report_per_consultation",
            ),
        ]
        verbose_name = _("report")
        verbose_name_plural = _("reports")

    def __str__(self) -> str:
        return f"{self.consultation_id} v{self.version} {self.status}"
