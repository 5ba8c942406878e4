"""The SLA policy as data: one row per priority, editable by the alliance admin."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from consult.models.consultations import Priority

DEFAULT_POLICIES = {
    Priority.ROUTINE: {"target_seconds": 4 * 3600, "breach_seconds": 6 * 3600},
    Priority.URGENT: {"target_seconds": 1 * 3600, "breach_seconds": 2 * 3600},
}


class SlaPolicy(models.Model):
    priority = models.CharField(_("priority"), max_length=10, choices=Priority.choices, unique=True)
    target_seconds = models.PositiveIntegerField(
        _("target (seconds from submission)"), validators=[MinValueValidator(1)]
    )
    breach_seconds = models.PositiveIntegerField(
        _("breach (seconds from submission)"), validators=[MinValueValidator(1)]
    )
    remind_percent = models.PositiveSmallIntegerField(
        _("remind the specialist at (percent of target)"),
        default=50,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
    )
    repeat_seconds = models.PositiveIntegerField(
        _("reassign again every (seconds) after breach"),
        default=3600,
        validators=[MinValueValidator(1)],
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["priority"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(breach_seconds__gt=models.F("target_seconds")),
                name="sla_breach_after_target",
            )
        ]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return f"{self.get_priority_display()}: {self.target_seconds}s / {self.breach_seconds}s"
