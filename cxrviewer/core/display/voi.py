"""The grey-scale display pipeline after the Modality LUT: VOI (window or LUT table) and inversion.

Pure numpy, used by `core.io` when a study is read and by the viewer each time the reader re-windows.
Every function returns float32 in [0, 1], where 0 is black and 1 is white on the screen.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cxrviewer.core.image import VoiLut, WindowPreset

VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")


def apply_window(
    values: npt.ArrayLike,
    center: float,
    width: float,
    *,
    function: str = "LINEAR",
    invert: bool = False,
) -> npt.NDArray[np.float32]:
    """Map modality values through a DICOM window (PS3.3 C.11.2.1.2) to display values.

    values: any shape, any real dtype, in modality units (after the Modality LUT).
    function: the VOI LUT Function: LINEAR (C.11.2.1.2.1, width >= 1), LINEAR_EXACT (C.11.2.1.3.2,
        width > 0) or SIGMOID (C.11.2.1.3.1, width > 0).
    invert: flip the output (1 - y), for MONOCHROME1 or Presentation LUT Shape INVERSE.
    Returns float32 of the same shape in [0, 1].
    Raises ValueError for an unknown function or a width the standard forbids.
    """
    function = function.upper()
    if function not in VOI_FUNCTIONS:
        raise ValueError(f"unknown VOI LUT function {function!r}; expected one of {VOI_FUNCTIONS}")
    minimum_width = 1.0 if function == "LINEAR" else 0.0
    if not np.isfinite(width) or not np.isfinite(center) or width < minimum_width or width == 0:
        raise ValueError(f"window width {width} is not valid for {function} (centre {center})")
    x = np.asarray(values, dtype=np.float32)
    # In-place float32 passes (subtract, scale, shift, clip) keep a 3000 x 2500 image at a few
    # tens of milliseconds; subtracting the centre first keeps integer inputs exact at the limits.
    if function == "LINEAR" and width == 1.0:
        # The standard's formula divides by (w - 1): a width of 1 is a threshold at c - 0.5.
        out = (x > center - 0.5).astype(np.float32)
    elif function in ("LINEAR", "LINEAR_EXACT"):
        if function == "LINEAR":
            origin, span = center - 0.5, width - 1.0
        else:
            origin, span = center, width
        out = x - np.float32(origin)
        out *= np.float32(1.0 / span)
        out += np.float32(0.5)
        np.clip(out, 0.0, 1.0, out=out)
    else:
        with np.errstate(over="ignore"):
            out = 1.0 / (1.0 + np.exp(np.float32(-4.0 / width) * (x - np.float32(center))))
    out = out.astype(np.float32, copy=False)
    return _inverted(out) if invert else out


def apply_voi_lut(
    values: npt.ArrayLike, lut: VoiLut, *, invert: bool = False
) -> npt.NDArray[np.float32]:
    """Map modality values through a VOI LUT table (PS3.3 C.11.2.1.1).

    values: any shape, any real dtype, in modality units. Values below `lut.first_mapped` take the
        first entry, values past the end take the last, as the standard says.
    Output is `table / (2**output_bits - 1)`: the LUT Descriptor's bit depth defines full white.
    Returns float32 of the same shape in [0, 1].
    """
    table = np.asarray(lut.table, dtype=np.float32)
    if table.size == 0:
        raise ValueError(f"VOI LUT {lut.name!r} has no entries")
    scaled = np.clip(table / np.float32(2**lut.output_bits - 1), 0.0, 1.0)
    index = np.rint(np.asarray(values, dtype=np.float64) - lut.first_mapped)
    index = np.clip(index, 0, table.size - 1).astype(np.intp)
    out = scaled[index]
    return _inverted(out) if invert else out


def apply_voi(
    values: npt.ArrayLike, voi: WindowPreset | VoiLut, *, invert: bool = False
) -> npt.NDArray[np.float32]:
    """Apply either kind of VOI: what the viewer calls when the reader picks a preset."""
    if isinstance(voi, VoiLut):
        return apply_voi_lut(values, voi, invert=invert)
    return apply_window(values, voi.center, voi.width, function=voi.function, invert=invert)


def full_range_window(low: float, high: float, name: str = "full range") -> WindowPreset:
    """A LINEAR window that maps `low` to exactly 0 and `high` to exactly 1.

    With centre (low + high + 1) / 2 and width high - low + 1 the standard's LINEAR formula is the
    straight line through (low, 0) and (high, 1), so integer data keeps every level distinct.
    """
    if not (np.isfinite(low) and np.isfinite(high)):
        raise ValueError(f"window limits must be finite, got {low}, {high}")
    high = max(high, low)
    return WindowPreset(center=(low + high + 1.0) / 2.0, width=high - low + 1.0, name=name)


def default_window(values: npt.ArrayLike) -> WindowPreset:
    """The window used when a file brings none: the data's own minimum to maximum.

    values: any shape, real dtype, in modality units.

    DICOM leaves the choice to the viewer when no VOI is given. The min–max window is chosen because
    it is what the source's values span (nothing clipped, order and relative contrast kept) and it
    needs no tuning; a percentile window would look punchier but would hide the darkest and
    brightest structures and differ between viewers. A constant image maps to black.
    """
    x = np.asarray(values)
    finite = x[np.isfinite(x)] if np.issubdtype(x.dtype, np.floating) else x
    if finite.size == 0:
        return full_range_window(0.0, 0.0, name="data range")
    return full_range_window(float(finite.min()), float(finite.max()), name="data range")


def _inverted(out: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    np.subtract(np.float32(1.0), out, out=out)
    return out
