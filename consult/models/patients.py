"""Children, their identifiers per hospital, weights and guardians."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from consult.models.directory import Hospital

MIN_WEIGHT_KG = 0.3
MAX_WEIGHT_KG = 150

mobile_validator = RegexValidator(
    r"^(\+?86)?1[3-9]\d{9}$",
    _("Enter a mainland China mobile number: 11 digits starting with 1, optionally +86."),
)


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")
    UNKNOWN = "O", _("Unknown")


class AllergyStatus(models.TextChoices):
    """Three states, never two: a blank allergy field is not a statement that there are none."""

    NOT_RECORDED = "not_recorded", _("not recorded")
    NONE_KNOWN = "none_known", _("no known allergies")
    LISTED = "listed", _("allergies listed")


def allergy_errors(status: str, text: str) -> dict[str, str]:
    """What is wrong with this (status, text) pair, by field; empty when it is consistent.
    The one rule for the form, the API and the services."""
    if status not in AllergyStatus.values:
        return {"allergy_status": str(_("Choose whether allergies were asked about."))}
    if status == AllergyStatus.LISTED and not text.strip():
        return {"allergies": str(_("List the allergies, or choose another answer."))}
    if status != AllergyStatus.LISTED and text.strip():
        return {
            "allergies": str(
                _("You listed allergies: choose “Allergies:”, or clear the list.")
                if status == AllergyStatus.NOT_RECORDED
                else _("“No known allergies” cannot come with a list: clear the list.")
            )
        }
    return {}


class Patient(models.Model):
    """A child. The national/insurance ID is kept only as a keyed HMAC, never in clear."""

    name = models.CharField(_("name"), max_length=100)
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    birth_date = models.DateField(_("date of birth"))
    national_id_hash = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    home_hospital = models.ForeignKey(
        Hospital,
        on_delete=models.PROTECT,
        related_name="registered_patients",
        verbose_name=_("registering hospital"),
    )
    allergy_status = models.CharField(
        _("allergy status"),
        max_length=12,
        choices=AllergyStatus.choices,
        default=AllergyStatus.NOT_RECORDED,
    )
    # The list, only when allergy_status is LISTED.
    allergies = models.CharField(_("allergies"), max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(allergy_status=AllergyStatus.LISTED) & ~models.Q(allergies=""))
                | (~models.Q(allergy_status=AllergyStatus.LISTED) & models.Q(allergies="")),
                name="patient_allergies_match_status",
                violation_error_message=_("Allergies are listed only when their status says so."),
            )
        ]
        verbose_name = _("child")
        verbose_name_plural = _("children")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.allergies = self.allergies.strip()
        if errors := allergy_errors(self.allergy_status, self.allergies):
            raise ValidationError(errors)

    @property
    def allergies_display(self) -> str:
        """What every page, PDF and sheet shows: the list, “no known allergies” when that was
        said, “not recorded” when nobody asked."""
        if self.allergy_status == AllergyStatus.LISTED:
            return self.allergies
        return str(AllergyStatus(self.allergy_status).label)

    @property
    def first_name(self) -> str:
        # Chinese names: family name is the first character (two for compound surnames
        # are rare enough that the given name stays recognisable).
        return self.name[1:] if len(self.name) > 1 and not self.name.isascii() else self.name


class PatientIdentifier(models.Model):
    """A hospital's medical record number (MRN) for the child."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="identifiers")
    hospital = models.ForeignKey(Hospital, on_delete=models.PROTECT, related_name="+")
    mrn = models.CharField(_("MRN"), max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hospital", "mrn"], name="uniq_mrn_per_hospital")
        ]
        verbose_name = _("medical record number")
        verbose_name_plural = _("medical record numbers")

    def __str__(self) -> str:
        return self.mrn


class WeightRecord(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="weights")
    weight_kg = models.DecimalField(
        _("weight (kg)"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(MIN_WEIGHT_KG), MaxValueValidator(MAX_WEIGHT_KG)],
    )
    measured_on = models.DateField(_("weighed on"))

    class Meta:
        ordering = ["-measured_on", "-id"]
        verbose_name = _("weight")
        verbose_name_plural = _("weights")

    def __str__(self) -> str:
        return f"{self.weight_kg} kg"


class Guardian(models.Model):
    class Relation(models.TextChoices):
        MOTHER = "mother", _("Mother")
        FATHER = "father", _("Father")
        GRANDPARENT = "grandparent", _("Grandparent")
        OTHER = "other", _("Other guardian")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="guardians")
    name = models.CharField(_("guardian name"), max_length=100)
    relation = models.CharField(_("relation"), max_length=20, choices=Relation.choices)
    mobile = models.CharField(_("mobile number"), max_length=20, validators=[mobile_validator])

    class Meta:
        ordering = ["id"]
        verbose_name = _("guardian")
        verbose_name_plural = _("guardians")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_relation_display()})"
