"""Every DICOM file bundled inside the installed pydicom, read by `read_image` and checked against
a reference that pydicom itself makes the standard's way.

The files are pydicom's own test data (test_files, charset_files, palettes inside the package, never
the pydicom-data downloads): every transfer syntax, photometric interpretation and oddity pydicom's
authors met, and many files that are not images at all. Each file must end one of four ways:

- loaded and agreeing with the reference;
- loaded where pydicom cannot decode it, with the reason and an independent check (EXTRA_DECODES);
- refused with a CxrError where pydicom cannot decode it either;
- refused as not an image (NoPixelDataError) when it has no image in it: never "cut short", never a
  raw exception.

The reference follows the reader's contract (cxrviewer.core.io.read_image): frame 1; for grey images
pydicom's apply_modality_lut, then the VOI the reader shows first (the file's first window through
pydicom's apply_windowing; else its first VOI LUT through apply_voi; else the reader's documented
default window: the full scale for 8-bit data without rescale, the data's range otherwise, still
applied by apply_windowing), scaled to [0, 1] by pydicom's own output range, and inverted for
MONOCHROME1 or Presentation LUT Shape INVERSE; for colour, pydicom's RGB (palette through
apply_color_lut) reduced to BT.601 luma over the level that means white. The reader's float32
pixels must agree within TOLERANCE of full scale.
"""

from __future__ import annotations

import functools
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pytest
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi, apply_windowing

from cxrviewer.core.errors import CxrError, NoPixelDataError
from cxrviewer.core.io import read_image
from cxrviewer.core.io.sniff import sniff

DATA = Path(pydicom.data.__file__).parent
CORPUS = sorted(
    path for path in DATA.rglob("*")
    if path.is_file() and "__pycache__" not in path.parts and sniff(path) in ("dicom", "acr-nema")
)
# 1e-4 of full scale: float32 against pydicom's float64, far below one 8-bit display level (3.9e-3).
TOLERANCE = 1e-4
LUMA = np.array([0.299, 0.587, 0.114])
GREY = ("MONOCHROME1", "MONOCHROME2")

# Files the reader decodes though pydicom (with the plugins this project may ship) cannot, and what
# they are checked against instead. pydicom's published reference values for JPGExtended.dcm are
# 244 at [420, 140] and 95 at [230, 120]; JPEG-lossy.dcm is the same picture with a bad SOS header.
EXTRA_DECODES = {
    "test_files/JPGExtended.dcm": "12-bit JPEG Extended: pydicom's GDCM plugin refuses 12-bit, "
    "pylibjpeg-libjpeg is GPL; decoded by GDCM directly",
    "test_files/JPEG-lossy.dcm": "the same 12-bit JPEG Extended picture with a bad SOS header",
}
# The counts this corpus gives, by pydicom version (issue #15's closing note quotes 3.0.2's). Another
# version brings other files; the per-file test holds each of them to the same rules regardless.
EXPECTED_COUNTS = {
    "3.0.2": {"agreed": 100, "loaded, pydicom cannot": 2, "refused, pydicom cannot either": 3,
              "refused as not an image": 86},
}
ACCEPTED = ("agreed", "loaded, pydicom cannot", "refused, pydicom cannot either", "refused as not an image")


@dataclass(frozen=True)
class Outcome:
    kind: str  # one of ACCEPTED, or "disagreed" / "refused, pydicom decodes"
    detail: str


def _name(path: Path) -> str:
    return path.relative_to(DATA).as_posix()


def _dataset(path: Path) -> pydicom.Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about every oddity these files were made for
        return pydicom.dcmread(path, force=sniff(path) == "acr-nema")


def reference(path: Path) -> np.ndarray:
    """pydicom's picture of frame 1 in [0, 1] by the reader's contract (see the module docstring)."""
    ds = _dataset(path)
    ds.pixel_array_options(index=0)  # frame 1 only; pixel_array(path) cannot read every file dcmread can
    stored = ds.pixel_array
    photometric = str(ds.PhotometricInterpretation).strip().upper()
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(stored, ds)
        return (rgb[..., :3].astype(np.float64) @ LUMA) / np.iinfo(rgb.dtype).max
    if photometric not in GREY:  # RGB, or YBR which pydicom has already converted to RGB
        return (stored[..., :3].astype(np.float64) @ LUMA) / (2 ** int(ds.BitsStored) - 1)
    values = apply_modality_lut(stored, ds)
    if "WindowCenter" in ds and "WindowWidth" in ds:
        shown = _windowed(values, ds)
    elif "VOILUTSequence" in ds:
        shown = apply_voi(values, ds, index=0) / (2 ** int(ds.VOILUTSequence[0].LUTDescriptor[2]) - 1)
    else:
        rescaled = any(k in ds for k in ("ModalityLUTSequence", "RescaleSlope", "RescaleIntercept"))
        if int(ds.BitsStored) <= 8 and not rescaled and not ds.get("PixelRepresentation", 0):
            low, high = 0.0, 2.0 ** int(ds.BitsStored) - 1
        else:
            low, high = float(values.min()), float(values.max())
        # The reader's full_range_window(low, high): LINEAR, centre (low + high + 1) / 2, width high - low + 1.
        ds.WindowCenter, ds.WindowWidth = (low + high + 1) / 2, high - low + 1
        ds.pop("VOILUTFunction", None)
        shown = _windowed(values, ds)
    inverse = str(ds.get("PresentationLUTShape", "")).strip().upper() == "INVERSE"
    return 1.0 - shown if photometric == "MONOCHROME1" or inverse else shown


def _windowed(values: np.ndarray, ds: pydicom.Dataset) -> np.ndarray:
    """apply_windowing's output scaled to [0, 1] by its own output range: two values far outside
    the window go through with the image and come out as that range's ends."""
    probe = np.concatenate([values.astype(np.float64).ravel(), [-1e300, 1e300]])
    with np.errstate(over="ignore"):
        out = apply_windowing(probe, ds, index=0)
    low, high = out[-2], out[-1]
    return ((out[:-2] - low) / (high - low)).reshape(values.shape)


@functools.cache
def outcome(path: Path) -> Outcome:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about every oddity these files were made for
        try:
            image = read_image(path)
        except CxrError as error:
            image, refusal = None, error
        try:
            expected, why_not = reference(path), ""
        except Exception as error:  # whatever pydicom raises for a file it cannot decode
            expected, why_not = None, f"{type(error).__name__}: {error}"
    if image is None:
        assert str(refusal).startswith(str(path)), f"the message must name the file: {refusal}"
        if isinstance(refusal, NoPixelDataError):
            return Outcome("refused as not an image", str(refusal.problem))
        if expected is None:
            return Outcome("refused, pydicom cannot either", f"{refusal.problem} | pydicom: {why_not}")
        return Outcome("refused, pydicom decodes", str(refusal.problem))
    if expected is None:
        return Outcome("loaded, pydicom cannot", why_not)
    if expected.shape != image.pixels.shape:
        return Outcome("disagreed", f"shape {image.pixels.shape}, pydicom {expected.shape}")
    worst = float(np.abs(image.pixels.astype(np.float64) - expected).max())
    return Outcome("agreed" if worst <= TOLERANCE else "disagreed", f"largest difference {worst:.2g}")


@pytest.mark.parametrize("path", CORPUS, ids=_name)
def test_pydicom_corpus_file(path):
    result = outcome(path)
    name = _name(path)
    if name in EXTRA_DECODES:  # "agreed" where pydicom has a decoder for it after all
        assert result.kind in ("loaded, pydicom cannot", "agreed"), result
        return
    assert result.kind in ACCEPTED and result.kind != "loaded, pydicom cannot", result
    if result.kind == "refused, pydicom cannot either":
        # A refusal says what is wrong; "cut short" only of a file that really is (MR_truncated.dcm).
        assert "cut short" not in result.detail or name == "test_files/MR_truncated.dcm", result
    if "PixelData" not in _dataset(path):
        assert result.kind == "refused as not an image", result


def test_twelve_bit_jpeg_extended_matches_pydicoms_reference_values():
    extended = read_image(DATA / "test_files/JPGExtended.dcm")
    assert extended.modality_values[420, 140] == 244 and extended.modality_values[230, 120] == 95
    assert extended.meta.bits_stored == 12 and extended.modality_values.max() <= 4095
    lossy = read_image(DATA / "test_files/JPEG-lossy.dcm")
    np.testing.assert_array_equal(lossy.modality_values, extended.modality_values)


def test_the_four_files_refused_before_now_load():
    for name in ("examples_jpeg2k.dcm", "SC_ybr_full_422_uncompressed.dcm", "JPEG-lossy.dcm", "JPGExtended.dcm"):
        assert outcome(DATA / "test_files" / name).kind in ("agreed", "loaded, pydicom cannot"), name


def test_corpus_counts(capsys):
    counts = Counter(outcome(path).kind for path in CORPUS)
    with capsys.disabled():
        print(f"\npydicom {pydicom.__version__} corpus, {len(CORPUS)} DICOM files: {dict(counts)}")
    assert set(counts) <= set(ACCEPTED), counts
    if pydicom.__version__ in EXPECTED_COUNTS:
        assert counts == Counter(EXPECTED_COUNTS[pydicom.__version__])
