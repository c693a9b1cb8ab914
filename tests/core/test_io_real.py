"""The real radiographs in ../shared/data/dicom: sizes, metadata, golden pixels and polarity."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from io_samples import linear_window
from pydicom.uid import ImplicitVRLittleEndian

from cxrviewer.core.io import read_image, scan_studies
from cxrviewer.paths import shared_data_dir

DICOM_DIR = shared_data_dir() / "dicom"
pytestmark = pytest.mark.skipif(not DICOM_DIR.is_dir(), reason=f"real data not present at {DICOM_DIR}")

MONO1 = "CR-MONO1-10-chest.dcm"
IMPLICIT = "nih_cxr14_DX_nofinding_implicitLE_mono2.dcm"
BASELINE = "siim_pneumothorax_CR_chest_PA_jpegbaseline_mono2.dcm"


def stored_pixels(name: str) -> np.ndarray:
    """The stored values as pydicom alone gives them (the ACR-NEMA file needs its syntax set by hand)."""
    ds = pydicom.dcmread(DICOM_DIR / name, force=True)
    if "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    return ds.pixel_array


@pytest.mark.parametrize("name", [MONO1, IMPLICIT, BASELINE])
def test_every_real_file_is_shown_with_lungs_darker_than_the_mediastinum(name):
    pixels = read_image(DICOM_DIR / name).pixels
    height, width = pixels.shape
    rows = slice(int(0.3 * height), int(0.6 * height))
    lungs = np.concatenate([
        pixels[rows, int(0.2 * width):int(0.35 * width)].ravel(),
        pixels[rows, int(0.65 * width):int(0.8 * width)].ravel(),
    ])
    mediastinum = pixels[rows, int(0.45 * width):int(0.55 * width)]
    # Measured: lungs 0.39-0.46, mediastinum 0.70-0.88 on these three files.
    assert lungs.mean() + 0.2 < mediastinum.mean()
    assert pixels.dtype == np.float32 and pixels.min() >= 0 and pixels.max() <= 1


def test_acr_nema_monochrome1_10_bit():
    image = read_image(DICOM_DIR / MONO1)
    meta = image.meta
    assert image.shape == (440, 440)
    assert (meta.modality, meta.photometric, meta.bits_stored) == ("CR", "MONOCHROME1", 10)
    assert meta.inverted_for_display
    assert [(p.center, p.width) for p in meta.window_presets] == [(550, 1024)]
    assert "no file meta header (ACR-NEMA style)" in meta.notes
    stored = stored_pixels(MONO1)
    np.testing.assert_array_equal(image.modality_values, stored)
    np.testing.assert_allclose(image.pixels, 1 - linear_window(stored, 550, 1024), atol=1e-6)
    assert meta.pixel_spacing_mm is None


def test_implicit_vr_dx_8_bit():
    image = read_image(DICOM_DIR / IMPLICIT)
    assert image.shape == (1024, 1024)
    assert (image.meta.modality, image.meta.photometric, image.meta.patient_id) == ("DX", "MONOCHROME2", "Covid0000")
    stored = stored_pixels(IMPLICIT)
    np.testing.assert_allclose(image.pixels, stored / 255, atol=1e-6)  # no VOI: 8-bit values are display values


def test_jpeg_baseline_cr_with_pixel_spacing():
    image = read_image(DICOM_DIR / BASELINE)
    assert image.shape == (1024, 1024)
    assert image.meta.transfer_syntax == "1.2.840.10008.1.2.4.50"
    assert image.meta.pixel_spacing_mm == (0.168, 0.168) and image.meta.spacing_source == "PixelSpacing"
    np.testing.assert_allclose(image.pixels, stored_pixels(BASELINE) / 255, atol=1e-6)


def test_the_folder_scan_finds_all_three():
    assert [path.name for path in scan_studies([DICOM_DIR]).studies] == sorted([MONO1, IMPLICIT, BASELINE])
