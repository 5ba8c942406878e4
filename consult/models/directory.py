"""The alliance directory: hospitals, departments, users, subspecialties, on-call roster."""

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Tier(models.TextChoices):
    TOWNSHIP = "township", _("Township")
    COUNTY = "county", _("County")
    MUNICIPAL = "municipal", _("Municipal")
    EXPERT_CENTER = "expert_center", _("Expert center")


class Subspecialty(models.TextChoices):
    CARDIAC = "cardiac", _("Cardiac")
    NEURO = "neuro", _("Neuro")
    CHEST = "chest", _("Chest")
    ABDOMINAL = "abdominal", _("Abdominal / GI")
    MSK = "msk", _("Musculoskeletal (incl. hip)")
    ONCOLOGY = "oncology", _("Oncology")
    NUCLEAR = "nuclear", _("Nuclear medicine")
    ULTRASOUND = "ultrasound", _("Ultrasound")
    GENERAL = "general", _("General")


class Role(models.TextChoices):
    REFERRING_DOCTOR = "referring_doctor", _("Referring doctor")
    SPECIALIST = "specialist", _("Specialist")
    COORDINATOR = "coordinator", _("Coordinator")
    ADMIN = "admin", _("Alliance admin")


def localized(zh: str, en: str) -> str:
    """The Chinese or English form of a bilingual name, by the active language."""
    if (get_language() or "zh-hans").startswith("en") and en:
        return en
    return zh or en


class Hospital(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    tier = models.CharField(_("tier"), max_length=20, choices=Tier.choices)
    province = models.CharField(_("province"), max_length=50)
    city = models.CharField(_("city"), max_length=50)
    county = models.CharField(_("county/district"), max_length=50, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    share_reports_with_guardians = models.BooleanField(
        _("share signed reports with guardians by default"), default=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("hospital")
        verbose_name_plural = _("hospitals")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return localized(self.name_zh, self.name_en)

    @property
    def region(self) -> str:
        return " ".join(part for part in (self.province, self.city, self.county) if part)


class Department(models.Model):
    hospital = models.ForeignKey(
        Hospital, on_delete=models.PROTECT, related_name="departments", verbose_name=_("hospital")
    )
    name_zh = models.CharField(_("name (Chinese)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    accepts_referrals = models.BooleanField(_("accepts referrals"), default=False)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    head = models.ForeignKey(
        "consult.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="headed_departments",
        verbose_name=_("department head"),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["hospital__code", "name_zh"]
        constraints = [
            models.UniqueConstraint(fields=["hospital", "name_zh"], name="uniq_department_name")
        ]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return localized(self.name_zh, self.name_en)


class User(AbstractUser):
    """A person who logs in: one role, one hospital (none only for alliance admins)."""

    full_name = models.CharField(_("full name"), max_length=100)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    hospital = models.ForeignKey(
        Hospital,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("hospital"),
    )
    department = models.ForeignKey(
        Department,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("department"),
    )
    mobile = models.CharField(_("mobile number"), max_length=20, blank=True)

    objects = UserManager()

    REQUIRED_FIELDS = ["email"]

    class Meta:
        ordering = ["username"]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def is_referring_doctor(self) -> bool:
        return self.role == Role.REFERRING_DOCTOR

    @property
    def is_specialist(self) -> bool:
        return self.role == Role.SPECIALIST

    @property
    def is_coordinator(self) -> bool:
        return self.role == Role.COORDINATOR

    @property
    def is_alliance_admin(self) -> bool:
        return self.role == Role.ADMIN


class SpecialistSubspecialty(models.Model):
    specialist = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="subspecialties", verbose_name=_("specialist")
    )
    subspecialty = models.CharField(_("subspecialty"), max_length=20, choices=Subspecialty.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["specialist", "subspecialty"], name="uniq_specialist_subspecialty"
            )
        ]
        verbose_name = _("specialist subspecialty")
        verbose_name_plural = _("specialist subspecialties")

    def __str__(self) -> str:
        return f"{self.specialist} · {self.get_subspecialty_display()}"


class OnCallShift(models.Model):
    specialist = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="on_call_shifts", verbose_name=_("specialist")
    )
    subspecialty = models.CharField(_("subspecialty"), max_length=20, choices=Subspecialty.choices)
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))

    class Meta:
        ordering = ["start", "subspecialty"]
        indexes = [models.Index(fields=["subspecialty", "start", "end"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="shift_ends_after_start"
            )
        ]
        verbose_name = _("on-call shift")
        verbose_name_plural = _("on-call roster")

    def __str__(self) -> str:
        return (
            f"{self.specialist} · {self.get_subspecialty_display()} · {self.start:%Y-%m-%d %H:%M}"
        )
