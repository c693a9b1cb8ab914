"""Named window presets for radiographs: lung, mediastinum and bone (issue 20: a CR or DX file's own
presets are unnamed values, C128/W256 on the SIIM film, which say nothing to a reader).

A radiograph has no Hounsfield scale, so a preset cannot be a fixed centre and width as on CT: each
is a band of the film's own brightness distribution, taken in display order (bright = dense, after
MONOCHROME1 inversion): the lungs are the darker two thirds, the mediastinum the brighter part with
room for the heart's edge, bone the brightest part. Computed from a sample of the modality values, so
the window is in the file's units like its own presets.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cxrviewer.core.image import WindowPreset

# name → (low, high) quantile of display brightness the window spans
BANDS = {"lung": (0.02, 0.65), "mediastinum": (0.35, 0.995), "bone": (0.55, 0.999)}
MODALITIES = ("CR", "DX", "DR", "")  # radiographs; "" for PNG/JPEG films, which are radiographs here
SAMPLE_STEP = 4  # every 4th row and column: the quantiles of a 2048² film in a few milliseconds


def named_presets(modality_values: npt.NDArray, inverted: bool, modality: str = "") -> tuple[WindowPreset, ...]:
    """The lung, mediastinum and bone windows of a radiograph in modality units; () for other
    modalities. `inverted`: the display inverts the values (MONOCHROME1), so bright = low values."""
    if modality.upper() not in MODALITIES:
        return ()
    sample = np.asarray(modality_values)[::SAMPLE_STEP, ::SAMPLE_STEP].astype(np.float64, copy=False)
    presets = []
    for name, (low, high) in BANDS.items():
        quantiles = (1 - high, 1 - low) if inverted else (low, high)
        a, b = np.quantile(sample, quantiles)
        width = max(float(b - a), 1.0)
        presets.append(WindowPreset(float((a + b) / 2), width, name))
    return tuple(presets)
