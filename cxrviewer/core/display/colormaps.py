"""Colour maps for explanation layers as 256×4 uint8 RGBA lookup tables (alpha 255 everywhere;
thresholds and opacity are folded in later by `compose.build_lut`).

- "jet": the rainbow map of Rajaraman et al. 2018's heat maps, kept because readers of those papers
  expect it; it is not perceptually uniform (bright cyan/yellow bands look like edges).
- "viridis" and "inferno": perceptually uniform, for judging magnitudes.
- "reds": a single hue (red) ramping in lightness, for a quiet overlay that keeps the anatomy legible.

The jet, viridis and inferno tables are OpenCV's (its viridis and inferno are matplotlib's), read
from resources/colormaps/opencv_luts.npz, which scripts/make_colormap_table.py writes from cv2: the
viewer bundle ships without OpenCV, and a test checks the file still equals cv2.applyColorMap.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cxrviewer.paths import resource

OPENCV_TABLES = ("jet", "viridis", "inferno")
COLORMAPS = (*OPENCV_TABLES, "reds")


def opencv_table_file() -> Path:
    """The .npz of OpenCV's tables: one (256, 3) uint8 RGB array per name in OPENCV_TABLES."""
    return resource("colormaps/opencv_luts.npz")


def _reds() -> npt.NDArray[np.uint8]:
    # Hue fixed at pure red; value rises 0.35 → 1 and saturation falls 1 → 0.15 at the top, so
    # the strongest evidence is the lightest (close to white) without another hue appearing.
    t = np.linspace(0.0, 1.0, 256)
    value = 0.35 + 0.65 * t
    saturation = 1.0 - 0.85 * t**2
    red = value
    green = blue = value * (1.0 - saturation)
    return np.round(np.stack([red, green, blue], axis=1) * 255).astype(np.uint8)


@functools.cache
def _table(name: str) -> npt.NDArray[np.uint8]:
    if name == "reds":
        rgb = _reds()
    else:
        with np.load(opencv_table_file(), allow_pickle=False) as tables:
            rgb = tables[name]
    table = np.full((256, 4), 255, dtype=np.uint8)
    table[:, :3] = rgb
    table.setflags(write=False)
    return table


def colormap(name: str) -> npt.NDArray[np.uint8]:
    """The (256, 4) uint8 RGBA table of colour map `name` (read-only; index 0 = lowest value)."""
    if name not in COLORMAPS:
        raise ValueError(f"unknown colour map {name!r}; known: {', '.join(COLORMAPS)}")
    return _table(name)
