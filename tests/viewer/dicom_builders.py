"""DICOM files built in the test with pydicom: no real patient data."""

from __future__ import annotations

import io

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

SC = "1.2.840.10008.5.1.4.1.1.7"


def make_dataset(
    *,
    patient_id: str = "C000123",
    patient_name: str = "LI^XIAOMING",
    study_uid: str | None = None,
    series_uid: str | None = None,
    sop_uid: str | None = None,
    modality: str = "CT",
    rows: int = 8,
    columns: int = 8,
    frames: int = 1,
    instance_number: int = 1,
    study_date: str = "20261101",
    accession: str = "ACC1",
    fill: int = 0,
) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = sop_uid or generate_uid()
    ds.StudyInstanceUID = study_uid or generate_uid()
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.PatientID = patient_id
    ds.PatientName = patient_name
    ds.PatientBirthDate = "20240315"
    ds.PatientSex = "M"
    ds.StudyDate = study_date
    ds.StudyTime = "101500"
    ds.AccessionNumber = accession
    ds.Modality = modality
    ds.StudyDescription = "Abdomen"
    ds.SeriesDescription = "Axial"
    ds.SeriesNumber = 1
    ds.InstanceNumber = instance_number
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [0.5, 0.5]
    if frames > 1:
        ds.NumberOfFrames = frames
    pixels = np.arange(rows * columns * frames, dtype="<u2").reshape(frames, rows, columns)
    ds.PixelData = ((pixels + fill) % 4096).astype("<u2").tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def to_bytes(ds: Dataset, *, preamble: bytes = b"\0" * 128) -> bytes:
    ds.preamble = preamble
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def make_file(**kwargs) -> bytes:  # noqa: ANN003
    return to_bytes(make_dataset(**kwargs))
