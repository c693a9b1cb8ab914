"""Window/level without redoing pixel maths: modality values become table indices once per study,
and every window, VOI LUT or inversion the reader picks becomes a lookup table of at most 65,536
entries computed with the same `core.display.voi` functions the reader uses.

8-bit sources get uint8 indices and a 256-entry table, which pyqtgraph shows as an indexed QImage,
so a window change touches no pixel at all. Deeper sources get uint16 indices and one table lookup
per change. Pure numpy (no Qt): it runs in the loader thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cxrviewer.core.display.voi import apply_voi
from cxrviewer.core.image import VoiLut, WindowPreset

MAX_LEVELS = 65536


@dataclass(frozen=True)
class IndexedImage:
    """Modality values as indices into `levels`.

    indices: (H, W) uint8 when there are at most 256 levels, else uint16.
    levels: (N,) float64, the modality value each index stands for, increasing; N <= 65,536.
    exact: True when every modality value is one of `levels` (integer data spanning < 65,536 units);
        otherwise values were rounded to the nearest of N evenly spaced levels.
    """

    indices: npt.NDArray[np.uint8] | npt.NDArray[np.uint16]
    levels: npt.NDArray[np.float64]
    exact: bool

    @property
    def value_range(self) -> float:
        return float(self.levels[-1] - self.levels[0])


def index_image(values: npt.NDArray[np.float32]) -> IndexedImage:
    """Index an image's modality values.

    values: (H, W) float32 modality values (any range; NaN and infinities count as the minimum).
    """
    finite = np.isfinite(values)
    all_finite = bool(finite.all())
    data = values if all_finite else values[finite]
    low, high = (float(data.min()), float(data.max())) if data.size else (0.0, 0.0)
    exact = bool(np.array_equal(data, np.rint(data))) and high - low < MAX_LEVELS
    count = int(high - low) + 1 if exact else MAX_LEVELS
    step = 1.0 if exact else ((high - low) / (MAX_LEVELS - 1) or 1.0)
    dtype = np.uint8 if count <= 256 else np.uint16
    filled = values if all_finite else np.where(finite, values, np.float32(low))
    scaled = (filled - np.float32(low)) * np.float32(1.0 / step)
    indices = np.clip(np.rint(scaled, out=scaled), 0, count - 1).astype(dtype)
    levels = low + np.arange(count, dtype=np.float64) * step
    return IndexedImage(indices=indices, levels=levels, exact=exact)


def display_table(indexed: IndexedImage, voi: WindowPreset | VoiLut, *, invert: bool) -> npt.NDArray[np.uint8]:
    """(N,) uint8 grey level shown for each index: 0 black, 255 white."""
    shown = apply_voi(indexed.levels, voi, invert=invert)
    return np.rint(shown * 255.0).astype(np.uint8)
