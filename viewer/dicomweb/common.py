"""What the STOW-RS, QIDO-RS and WADO-RS views share: the DICOM JSON media type and an
instance's DICOMweb path."""

from __future__ import annotations

from viewer.models import Instance

DICOM_JSON = "application/dicom+json"


def _path(instance: Instance) -> str:
    series = instance.series
    return (
        f"/dicomweb/studies/{series.study.study_instance_uid}/series/"
        f"{series.series_instance_uid}/instances/{instance.sop_instance_uid}"
    )
