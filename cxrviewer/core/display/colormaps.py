"""Colour maps for explanation layers as 256×4 uint8 RGBA lookup tables (alpha 255 everywhere;
thresholds and opacity are folded in later by `compose.build_lut`).

- "jet": the rainbow map of Rajaraman et al. 2018's heat maps, kept because readers of those papers
  expect it; it is not perceptually uniform (bright cyan/yellow bands look like edges).
- "viridis" and "inferno": perceptually uniform, for judging magnitudes.
- "reds": a single hue (red) ramping in lightness, for a quiet overlay that keeps the anatomy legible.

The jet, viridis and inferno tables come from OpenCV (already a core dependency), whose viridis and
inferno tables are matplotlib's.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import numpy.typing as npt

_OPENCV = {"jet": cv2.COLORMAP_JET, "viridis": cv2.COLORMAP_VIRIDIS, "inferno": cv2.COLORMAP_INFERNO}
COLORMAPS = (*_OPENCV, "reds")


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
        bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], _OPENCV[name])[:, 0, :]
        rgb = bgr[:, ::-1]
    table = np.full((256, 4), 255, dtype=np.uint8)
    table[:, :3] = rgb
    table.setflags(write=False)
    return table


def colormap(name: str) -> npt.NDArray[np.uint8]:
    """The (256, 4) uint8 RGBA table of colour map `name` (read-only; index 0 = lowest value)."""
    if name not in COLORMAPS:
        raise ValueError(f"unknown colour map {name!r}; known: {', '.join(COLORMAPS)}")
    return _table(name)
