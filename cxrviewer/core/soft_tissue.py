"""The bone-suppressed view a reader sees: the model's suppressed lungs set into the original.

The bone-suppression model is trained inside the lungs only (its BSE-JSRT target is zero outside
them), so outside the lungs its output means nothing. The soft-tissue view therefore takes the
suppressed image inside the lung mask and the original outside it, with a feathered seam: the
weight of the suppressed image rises from 0 at the lung border to 1 at `feather_px` pixels inside,
so the seam never shows the model's unconstrained output beyond the lungs. The "bones" layer is
what the suppression took away: original minus soft tissue (0 outside the lungs).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cxrviewer.core.imageops.morphology import distance_to_background

Array = npt.NDArray[np.float32]


def lung_weight(lung_mask: npt.NDArray, feather_px: float) -> Array:
    """lung_mask: (H, W) bool, or float in [0, 1] (a probability map, inside at >= 0.5).
    Returns (H, W) float32 in [0, 1]: 0 outside the lungs, rising smoothly (smoothstep of the
    Euclidean distance to the nearest non-lung pixel) to 1 at `feather_px` inside; a hard 0/1
    mask when feather_px <= 0."""
    inside = np.asarray(lung_mask) >= 0.5 if np.asarray(lung_mask).dtype != bool else np.asarray(lung_mask)
    if feather_px <= 0:
        return inside.astype(np.float32)
    # Beyond the image is not "outside the lungs": a lung touching the image edge counts the edge
    # as lung (distance_to_background never measures to beyond the image). Only distances up to
    # the feather matter, since the weight is 1 past it.
    distance = distance_to_background(inside, feather_px)
    t = np.clip(distance / float(feather_px), 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def soft_tissue_view(original: Array, suppressed: Array, lung_mask: npt.NDArray, feather_px: float) -> Array:
    """original, suppressed: (H, W) float32 on the same intensity scale (display polarity, as the
    model's input and output); lung_mask: (H, W) bool or float in [0, 1]. Returns (H, W) float32:
    suppressed inside the lungs, original outside, blended over `feather_px` pixels inside the
    lung border (see `lung_weight`)."""
    original = np.asarray(original, dtype=np.float32)
    suppressed = np.asarray(suppressed, dtype=np.float32)
    if original.shape != suppressed.shape or original.shape != np.shape(lung_mask):
        raise ValueError(f"soft_tissue_view needs equal shapes, got original {original.shape}, "
                         f"suppressed {suppressed.shape}, lung mask {np.shape(lung_mask)}")
    w = lung_weight(lung_mask, feather_px)
    return (w * suppressed + (1.0 - w) * original).astype(np.float32)


def bones_view(original: Array, soft_tissue: Array) -> Array:
    """(H, W) float32 original minus soft tissue: the bone layer the suppression removed (positive
    where bone brightened the radiograph, 0 where the original was kept)."""
    return (np.asarray(original, dtype=np.float32) - np.asarray(soft_tissue, dtype=np.float32)).astype(np.float32)
