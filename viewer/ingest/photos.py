"""Photos of film, paper reports and PDFs wrapped as DICOM (pure: no ORM).

JPEG/PNG become Secondary Capture with JPEG Baseline pixel data: EXIF orientation is
applied and all EXIF (GPS, camera) dropped by re-encoding. PDFs become Encapsulated PDF.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    generate_uid,
)

from viewer.ingest.reader import IngestError

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
FILM_LABEL = "Photo of film, not of diagnostic quality"
MAX_SIDE = 4096


@dataclass(frozen=True)
class Demographics:
    name: str
    patient_id: str
    birth_date: dt.date
    sex: str
    institution: str


def _base(
    *, demo: Demographics, sop_class: str, study_uid: str, series_uid: str, when: dt.datetime
) -> Dataset:
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.PatientName = demo.name
    ds.PatientID = demo.patient_id
    ds.PatientBirthDate = demo.birth_date.strftime("%Y%m%d")
    ds.PatientSex = demo.sex
    ds.InstitutionName = demo.institution
    ds.StudyDate = ds.ContentDate = when.strftime("%Y%m%d")
    ds.StudyTime = ds.ContentTime = when.strftime("%H%M%S")
    ds.AccessionNumber = ""
    ds.StudyID = ""
    ds.ReferringPhysicianName = ""
    ds.SeriesNumber = 900
    ds.InstanceNumber = 1
    ds.Modality = "OT"
    return ds


def _file_meta(ds: Dataset, transfer_syntax: str) -> None:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = transfer_syntax  # type: ignore[assignment]  # pydicom takes a str
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta = meta


def image_to_dicom(
    data: bytes,
    *,
    demo: Demographics,
    study_uid: str,
    series_uid: str,
    when: dt.datetime,
    photo_of_film: bool,
    max_pixels: int,
) -> bytes:
    """A JPEG or PNG as a Secondary Capture instance (bytes of a PS3.10 file)."""
    try:
        Image.MAX_IMAGE_PIXELS = max_pixels
        image: Image.Image = Image.open(io.BytesIO(data))
        if image.width * image.height > max_pixels:
            raise IngestError("pixels_too_large", _("The picture has too many pixels."))
        image = ImageOps.exif_transpose(image).convert("RGB")
        image.thumbnail((MAX_SIDE, MAX_SIDE))
        out = io.BytesIO()
        # Re-encoding keeps the pixels and nothing else: no EXIF, no GPS.
        image.save(out, format="JPEG", quality=92, subsampling=0)
    except IngestError:
        raise
    except Exception as exc:  # Pillow raises many types on damaged pictures; all mean this
        raise IngestError("not_image", _("Not a JPEG or PNG picture that can be read.")) from exc
    ds = _base(
        demo=demo,
        sop_class=SECONDARY_CAPTURE,
        study_uid=study_uid,
        series_uid=series_uid,
        when=when,
    )
    ds.ConversionType = "DF" if photo_of_film else "WSD"
    ds.SeriesDescription = FILM_LABEL if photo_of_film else "Photo"
    ds.ImageComments = FILM_LABEL if photo_of_film else ""
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "01"
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_FULL"
    ds.PlanarConfiguration = 0
    ds.Rows, ds.Columns = image.height, image.width
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = encapsulate([out.getvalue()])
    ds["PixelData"].VR = "OB"
    _file_meta(ds, JPEGBaseline8Bit)
    return _encode(ds)


def pdf_to_dicom(
    data: bytes, *, demo: Demographics, study_uid: str, series_uid: str, when: dt.datetime
) -> bytes:
    """A PDF as an Encapsulated PDF instance."""
    if not data.startswith(b"%PDF-"):
        raise IngestError("not_pdf", _("Not a PDF document."))
    ds = _base(
        demo=demo,
        sop_class=ENCAPSULATED_PDF,
        study_uid=study_uid,
        series_uid=series_uid,
        when=when,
    )
    ds.Modality = "DOC"
    ds.SeriesDescription = "PDF"
    ds.ConversionType = "WSD"
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = "PDF"
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = data + (b"\0" if len(data) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(data)
    _file_meta(ds, ExplicitVRLittleEndian)
    return _encode(ds)


def _encode(ds: Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()
