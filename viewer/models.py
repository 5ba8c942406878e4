"""Imaging index: studies, series and instances, linked to the child and the sending hospital.

The bytes live in Django storage under a server-generated key; these rows index them.
"""

import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Source(models.TextChoices):
    WEB = "web", _("Browser upload")
    STOW = "stow", _("DICOMweb STOW-RS")
    CSTORE = "cstore", _("DICOM C-STORE")
    PHOTO = "photo", _("Photo or document")


class Study(models.Model):
    study_instance_uid = models.CharField(_("Study Instance UID"), max_length=64, unique=True)
    # Null while the study waits in the hospital's "unmatched" queue.
    patient = models.ForeignKey(
        "consult.Patient",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="studies",
        verbose_name=_("child"),
    )
    hospital = models.ForeignKey(
        "consult.Hospital",
        on_delete=models.PROTECT,
        related_name="studies",
        verbose_name=_("sending hospital"),
    )
    patient_id_in_file = models.CharField(_("Patient ID in file"), max_length=64, blank=True)
    patient_name_in_file = models.CharField(_("Patient name in file"), max_length=200, blank=True)
    study_date = models.DateField(_("study date"), null=True, blank=True)
    study_time = models.TimeField(_("study time"), null=True, blank=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    accession_number = models.CharField(_("accession number"), max_length=64, blank=True)
    institution_name = models.CharField(_("institution"), max_length=200, blank=True)
    modalities = models.CharField(_("modalities"), max_length=100, blank=True)
    number_of_series = models.PositiveIntegerField(default=0)
    number_of_instances = models.PositiveIntegerField(default=0)
    # Photos of film are labelled wherever the study is shown (not of diagnostic quality).
    has_photo_of_film = models.BooleanField(_("includes a photo of film"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-study_date", "-created_at"]
        indexes = [
            models.Index(fields=["hospital", "patient_id_in_file"]),
            models.Index(fields=["patient", "study_date"]),
        ]
        verbose_name = _("study")
        verbose_name_plural = _("studies")

    def __str__(self) -> str:
        return f"{self.study_date or ''} {self.modalities} {self.description}".strip()


class Series(models.Model):
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField(_("Series Instance UID"), max_length=64, unique=True)
    modality = models.CharField(_("modality"), max_length=16, blank=True)
    body_part = models.CharField(_("body part"), max_length=64, blank=True)
    description = models.CharField(_("description"), max_length=200, blank=True)
    series_number = models.IntegerField(_("series number"), null=True, blank=True)
    frame_of_reference_uid = models.CharField(max_length=64, blank=True)
    number_of_instances = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["series_number", "id"]
        verbose_name = _("series")
        verbose_name_plural = _("series")

    def __str__(self) -> str:
        return f"{self.modality} {self.series_number or ''} {self.description}".strip()


class Instance(models.Model):
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_instance_uid = models.CharField(_("SOP Instance UID"), max_length=64, unique=True)
    sop_class_uid = models.CharField(_("SOP Class UID"), max_length=64)
    instance_number = models.IntegerField(_("instance number"), null=True, blank=True)
    transfer_syntax_uid = models.CharField(_("transfer syntax"), max_length=64)
    rows = models.PositiveIntegerField(null=True, blank=True)
    columns = models.PositiveIntegerField(null=True, blank=True)
    number_of_frames = models.PositiveIntegerField(default=1)
    pixel_spacing = models.CharField(_("pixel spacing"), max_length=64, blank=True)
    size = models.BigIntegerField(_("size in bytes"))
    sha256 = models.CharField(max_length=64)
    storage_key = models.CharField(max_length=255, unique=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    is_photo_of_film = models.BooleanField(_("photo of film"), default=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("sent by"),
    )
    sending_hospital = models.ForeignKey(
        "consult.Hospital", on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        ordering = ["instance_number", "id"]
        verbose_name = _("instance")
        verbose_name_plural = _("instances")

    def __str__(self) -> str:
        return self.sop_instance_uid


class IngestConflict(models.Model):
    """Different bytes arrived under a SOP Instance UID already stored: kept aside, reported,
    never overwriting the original.

    A doctor of the sending hospital (or the alliance admin) resolves it: either the stored
    version stays and the new bytes are deleted (`storage_key` then empty), or the new
    version replaces the stored one and this row keeps the superseded bytes (its key, size
    and hash swap with the instance's), so nothing once served is ever lost."""

    class Resolution(models.TextChoices):
        OPEN = "", _("Open")
        KEPT_STORED = "kept", _("Stored version kept, new one discarded")
        REPLACED = "replaced", _("Replaced with the new version")

    sop_instance_uid = models.CharField(_("SOP Instance UID"), max_length=64, db_index=True)
    study_instance_uid = models.CharField(_("Study Instance UID"), max_length=64)
    existing = models.ForeignKey(
        Instance, on_delete=models.CASCADE, related_name="conflicts", verbose_name=_("stored")
    )
    size = models.BigIntegerField(_("size in bytes"))
    sha256 = models.CharField(max_length=64)
    # Null once the new bytes were discarded (the resolution "kept").
    storage_key = models.CharField(max_length=255, unique=True, null=True, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sending_hospital = models.ForeignKey(
        "consult.Hospital", on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    resolution = models.CharField(
        _("resolution"), max_length=10, choices=Resolution.choices, blank=True, db_index=True
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolution_reason = models.CharField(_("reason"), max_length=500, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sop_instance_uid", "sha256"], name="uniq_conflict_per_content"
            )
        ]
        verbose_name = _("conflicting instance")
        verbose_name_plural = _("conflicting instances")

    def __str__(self) -> str:
        return self.sop_instance_uid


ae_title_validator = RegexValidator(
    r"^[ -~]{1,16}$", _("An AE title is 1 to 16 plain characters (letters, digits, spaces).")
)


def validate_ip_list(value: str) -> None:
    for item in value.replace(",", " ").split():
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValidationError(
                _("%(item)s is not an IP address or network."), params={"item": item}
            ) from None


class DicomNode(models.Model):
    """A hospital's PACS or modality allowed to push to the C-STORE listener."""

    hospital = models.ForeignKey(
        "consult.Hospital",
        on_delete=models.PROTECT,
        related_name="dicom_nodes",
        verbose_name=_("hospital"),
    )
    ae_title = models.CharField(_("AE title"), max_length=16, validators=[ae_title_validator])
    allowed_ips = models.CharField(
        _("allowed IP addresses"),
        max_length=500,
        validators=[validate_ip_list],
        help_text=_(
            "Addresses or networks separated by spaces or commas, e.g. 10.2.3.4 10.9.0.0/24"
        ),
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["hospital__code", "ae_title"]
        constraints = [models.UniqueConstraint(fields=["ae_title"], name="uniq_dicom_node_aet")]
        verbose_name = _("DICOM node")
        verbose_name_plural = _("DICOM nodes")

    def __str__(self) -> str:
        return self.ae_title

    def allows(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        networks = self.allowed_ips.replace(",", " ").split()
        return any(ip in ipaddress.ip_network(item, strict=False) for item in networks)


class IntegrationToken(models.Model):
    """A hospital system's DICOMweb credential. Only a SHA-256 of the secret is kept; the
    token acts through its own account, which belongs to the hospital."""

    hospital = models.ForeignKey(
        "consult.Hospital",
        on_delete=models.PROTECT,
        related_name="integration_tokens",
        verbose_name=_("hospital"),
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="integration_token"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["hospital__code", "-created_at"]
        verbose_name = _("integration token")
        verbose_name_plural = _("integration tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class RenderInfo(models.Model):
    """What the viewer needs to draw and measure an instance, read once from its header
    (by the render task, or on first view) so that opening a study reads no files."""

    instance = models.OneToOneField(
        Instance, on_delete=models.CASCADE, primary_key=True, related_name="render_info"
    )
    info = models.JSONField(default=dict)
    # Why the header could not be read, in plain English; empty when it could.
    problem = models.CharField(max_length=300, blank=True)
    # Set once the default-window frames and the 16-bit forms are in the render cache.
    cached_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("render information")
        verbose_name_plural = _("render information")

    def __str__(self) -> str:
        return f"render info {self.instance_id}"


class Measurement(models.Model):
    """A specialist's measurement on one frame, in image pixel coordinates."""

    class Kind(models.TextChoices):
        LENGTH = "length", _("Length")
        ANGLE = "angle", _("Angle")
        ARROW = "arrow", _("Arrow")

    class Unit(models.TextChoices):
        MM = "mm", _("mm")
        MM_APPROX = "mm_approx", _("mm (approximate)")
        PX = "px", _("pixels")
        DEGREES = "deg", _("degrees")
        NONE = "", _("none")

    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="measurements")
    instance = models.ForeignKey(Instance, on_delete=models.CASCADE, related_name="measurements")
    frame = models.PositiveIntegerField(_("frame"), default=1)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    points = models.JSONField(_("points"))
    value = models.FloatField(_("value"), null=True, blank=True)
    unit = models.CharField(_("unit"), max_length=10, choices=Unit.choices, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("measured by"),
    )
    created_at = models.DateTimeField(_("measured at"), auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("measurement")
        verbose_name_plural = _("measurements")

    def __str__(self) -> str:
        return f"{self.kind} {self.value or ''}{self.unit}"

    @property
    def report_text(self) -> str:
        """One line for a report: what was measured, its value and where (series, image)."""
        value = "" if self.value is None else f"{self.value:.1f} {self.get_unit_display()}"
        where = _("series %(series)s, image %(image)s") % {
            "series": self.instance.series.series_number or "?",
            "image": self.instance.instance_number or "?",
        }
        parts = [str(self.get_kind_display()), value, self.note]
        return " ".join(p for p in parts if p) + f" ({where})"
