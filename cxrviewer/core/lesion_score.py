"""The image-level TB-findings score of a lesion probability map, the same at training and view time.

Mean of the highest `TOP_FRACTION` of the map's pixels: one hot pixel (a burned-in marker, a noisy
edge) moves it little, while a lesion the size of a small TB area box (about 0.5 % of the image,
an 18×18 patch at 256²) lifts it fully. The plain maximum was the alternative; it is the noisiest
order statistic of the map, so its threshold would be the least stable across sources.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

TOP_FRACTION = 0.005


def lesion_score(probability: npt.NDArray[np.floating], top_fraction: float = TOP_FRACTION) -> float:
    """probability: (H, W) lesion probability in [0, 1] → the mean of its top `top_fraction` pixels
    (at least one), in [0, 1]."""
    values = np.asarray(probability, dtype=np.float64)
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"a lesion map must be a non-empty (H, W) array, got shape {values.shape}")
    if not 0 < top_fraction <= 1:
        raise ValueError(f"top_fraction must be in (0, 1], got {top_fraction}")
    k = max(1, round(values.size * top_fraction))
    return float(np.partition(values.ravel(), values.size - k)[values.size - k:].mean())
