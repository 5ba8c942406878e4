"""Login security: the alliance's two-factor policy and the SMS second-factor device."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_otp.models import SideChannelDevice


class SecurityPolicy(models.Model):
    """One row (pk=1), edited by the alliance admin on the security settings page."""

    referring_doctors_need_second_factor = models.BooleanField(
        _("referring doctors must use a second factor too"), default=False
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("security policy")
        verbose_name_plural = _("security policy")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)

    @classmethod
    def current(cls) -> "SecurityPolicy":
        return cls.objects.filter(pk=1).first() or cls(pk=1)


class SmsDevice(SideChannelDevice):
    """The fallback second factor: a one-time code sent to the user's mobile number through
    the SMS backend (core.sms). The number is read from the user at sending time."""

    class Meta:
        verbose_name = _("SMS code device")
        verbose_name_plural = _("SMS code devices")
