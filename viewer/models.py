"""Imaging index: studies, series and instances, linked to the child and the sending hospital.

The bytes live in Django storage under a server-generated key; these rows index them.
"""

from django.conf import settings
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
