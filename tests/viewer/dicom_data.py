"""DICOM datasets built in the test (never patient data): CT slices, colour, multi-frame US."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def _base(sop_class: str, study_uid: str, series_uid: str, modality: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.SOPClassUID = sop_class
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.Modality = modality
    ds.PatientName, ds.PatientID = "TEST^CHILD", "C000123"
    return ds


def ct_slice(
    study_uid: str,
    series_uid: str,
    index: int,
    size: int = 64,
    *,
    spacing: tuple[float, float] | None = (0.5, 0.5),
    frame_of_reference: str = "1.2.3.4",
) -> Dataset:
    """A signed 16-bit CT slice whose values encode the slice index (for scroll tests)."""
    ds = _base(CT_IMAGE, study_uid, series_uid, "CT")
    ds.InstanceNumber = index + 1
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 1
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.WindowCenter, ds.WindowWidth = 40, 400
    if spacing:
        ds.PixelSpacing = list(spacing)
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.ImagePositionPatient = [0, 0, float(index) * 2]
    ds.SliceLocation = float(index) * 2
    ds.FrameOfReferenceUID = frame_of_reference
    yy, xx = np.mgrid[0:size, 0:size]
    disc = (xx - size / 2) ** 2 + (yy - size / 2) ** 2 < (size / 3) ** 2
    arr = np.where(disc, 1024 + 40 + index * 10, 0).astype(np.int16)
    ds.PixelData = arr.tobytes()
    return ds


def us_multiframe(study_uid: str, series_uid: str, frames: int = 8, size: int = 48) -> Dataset:
    ds = _base(US_MULTIFRAME, study_uid, series_uid, "US")
    ds.InstanceNumber = 1
    ds.Rows = ds.Columns = size
    ds.NumberOfFrames = frames
    ds.FrameTime = 40.0
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    arr = np.stack([np.full((size, size), 20 * f, np.uint8) for f in range(frames)])
    ds.PixelData = arr.tobytes()
    return ds


def rgb_photo(study_uid: str, series_uid: str, width: int = 40, height: int = 30) -> Dataset:
    ds = _base(SECONDARY_CAPTURE, study_uid, series_uid, "OT")
    ds.InstanceNumber = 1
    ds.Rows, ds.Columns = height, width
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    arr = np.zeros((height, width, 3), np.uint8)
    arr[..., 0] = 200
    ds.PixelData = arr.tobytes()
    return ds
