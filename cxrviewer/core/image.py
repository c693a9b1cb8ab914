"""The in-memory study image that every other layer consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

SpacingSource = Literal["PixelSpacing", "ImagerPixelSpacing"]


@dataclass(frozen=True)
class WindowPreset:
    """A VOI window in modality units (after the Modality LUT)."""

    center: float
    width: float
    name: str = ""
    function: str = "LINEAR"  # DICOM VOILUTFunction: LINEAR, LINEAR_EXACT or SIGMOID


@dataclass(frozen=True)
class VoiLut:
    """A DICOM VOI LUT Sequence item: `table[i]` is the output for input `first_mapped + i`."""

    first_mapped: float
    table: npt.NDArray[np.float32]
    output_bits: int
    name: str = ""


@dataclass(frozen=True)
class ImageMeta:
    """What the reader and the models need to know about where the pixels came from."""

    path: Path
    format: str  # "DICOM" or the raster format name ("PNG", "JPEG", "TIFF", ...)
    modality: str = ""
    photometric: str = "MONOCHROME2"  # as stored, before any inversion
    patient_id: str = ""
    patient_name: str = ""
    study_uid: str = ""
    series_uid: str = ""
    sop_uid: str = ""
    study_date: str = ""
    description: str = ""
    rows: int = 0
    columns: int = 0
    bits_stored: int = 8
    transfer_syntax: str = ""
    window_presets: tuple[WindowPreset, ...] = ()
    voi_luts: tuple[VoiLut, ...] = ()
    pixel_spacing_mm: tuple[float, float] | None = None  # (row spacing, column spacing)
    spacing_source: SpacingSource | None = None
    inverted_for_display: bool = False  # MONOCHROME1 or Presentation LUT Shape INVERSE (counted once)
    number_of_frames: int = 1
    notes: tuple[str, ...] = ()  # things the reader should know, e.g. "frame 1 of 12 shown"
    tags: tuple[tuple[str, str, str, str], ...] = field(default=(), repr=False)  # (tag, name, VR, value)

    def tag_value(self, tag: str, *, strip: bool = True) -> str:
        """The value of `tag` ("(gggg,eeee)") at the top level of the dataset as the tag browser lists
        it (an item inside a sequence does not count), "" when absent."""
        value = next((v for t, name, _vr, v in self.tags if t == tag and ">" not in name), "")
        return value.strip() if strip else value

    @property
    def spacing_is_at_detector(self) -> bool:
        """True when distances can only be given at the detector plane, not at the patient."""
        return self.spacing_source == "ImagerPixelSpacing"


@dataclass(frozen=True)
class Image:
    """A study image ready for display and for models.

    pixels: (H, W) float32 in [0, 1], display polarity (air dark, bone bright), with modality LUT,
        the first VOI transform, presentation LUT and MONOCHROME1 inversion applied.
    modality_values: (H, W) float32, the values after the Modality LUT and before VOI, so the reader
        can re-window; for raster images the stored grey levels.
    """

    pixels: npt.NDArray[np.float32]
    modality_values: npt.NDArray[np.float32]
    meta: ImageMeta

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape[0], self.pixels.shape[1]
