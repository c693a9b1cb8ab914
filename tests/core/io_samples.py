"""Builders for the DICOM and raster files the io tests write into tmp_path, with known pixels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    BasicTextSRStorage,
    ComputedRadiographyImageStorage,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

# A 12-bit ramp with both ends and the middle present, so windows have values below, inside and above.
RAMP_12 = np.array(
    [[0, 100, 1000, 2000], [2047, 2048, 2049, 3000], [3500, 4000, 4094, 4095]], dtype=np.uint16
)


def grey_dataset(
    pixels: np.ndarray,
    *,
    bits_stored: int | None = None,
    photometric: str = "MONOCHROME2",
    **attributes: object,
) -> Dataset:
    """A CR dataset holding `pixels` (H, W) or (frames, H, W) uint8/uint16/int16 natively."""
    ds = _base(attributes.pop("sop_class", ComputedRadiographyImageStorage))
    frames = pixels.shape[0] if pixels.ndim == 3 else 1
    ds.Rows, ds.Columns = pixels.shape[-2:]
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = bits_stored or ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = int(np.issubdtype(pixels.dtype, np.signedinteger))
    ds.PixelData = np.ascontiguousarray(pixels).astype(pixels.dtype.newbyteorder("<")).tobytes()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def rgb_dataset(rgb: np.ndarray) -> Dataset:
    """An 8-bit RGB dataset, (H, W, 3) uint8, interleaved."""
    ds = _base(ComputedRadiographyImageStorage)
    ds.Rows, ds.Columns = rgb.shape[:2]
    ds.SamplesPerPixel = 3
    ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = "RGB"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    return ds


def report_dataset() -> Dataset:
    """A Basic Text SR: a DICOM file with patient and study but no image."""
    ds = _base(BasicTextSRStorage)
    ds.Modality = "SR"
    ds.ContentDate = "20240102"
    ds.ContentTime = "101010"
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.ConceptNameCodeSequence = []
    return ds


def save(ds: Dataset, path: Path, transfer_syntax: UID = ExplicitVRLittleEndian) -> Path:
    """Write `ds` as a Part 10 file in `transfer_syntax` (native ones only; compress first otherwise)."""
    if transfer_syntax == ExplicitVRBigEndian:
        bits = int(ds.BitsAllocated)
        if bits == 16:
            count = len(ds.PixelData) // 2
            little = np.frombuffer(ds.PixelData, dtype="<u2", count=count)
            ds.PixelData = little.astype(">u2").tobytes()
    if not ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.file_meta.TransferSyntaxUID = transfer_syntax
    syntax = ds.file_meta.TransferSyntaxUID
    ds.save_as(
        path,
        implicit_vr=syntax == ImplicitVRLittleEndian,
        little_endian=syntax != ExplicitVRBigEndian,
        enforce_file_format=True,
    )
    return path


def linear_window(x: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 written out piecewise, independently of the code under test."""
    x = np.asarray(x, dtype=np.float64)
    low, high = center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2
    inside = ((x - (center - 0.5)) / (width - 1) + 0.5)
    return np.where(x <= low, 0.0, np.where(x > high, 1.0, inside))


def _base(sop_class: str) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "CR"
    ds.PatientID = "PAT-001"
    ds.PatientName = "Test^Phantom"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyDate = "20240102"
    ds.StudyTime = "101010"
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    return ds
