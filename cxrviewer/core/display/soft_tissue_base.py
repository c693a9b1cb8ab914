"""The bone-suppressed base image under the reader's current window, through a 256-entry table.

The soft-tissue view comes from the analysis on the study's `pixels` (the first VOI already
applied, display polarity, [0, 1]), whereas the reader windows the original in modality units. To
let one window/level drag act on both, each of the 256 soft-tissue grey levels is mapped back to the
modality level that the first VOI turned into that grey (measured on the study's own pixels, so it
holds for any VOI function the reader applied), and then through the current display table. A
window change therefore rebuilds 256 entries; no pixel is touched. Pure numpy (no Qt).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cxrviewer.core.display.indexed_image import IndexedImage


@dataclass(frozen=True, eq=False)
class SoftTissueBase:
    """indices: (H, W) uint8, round(soft tissue · 255); level_of_grey: (256,) int, the original's
    level index (into IndexedImage.levels) whose first-VOI grey each soft-tissue index stands for."""

    indices: npt.NDArray[np.uint8]
    level_of_grey: npt.NDArray[np.intp]

    def table(self, display_table: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """(256,) uint8 grey shown for each soft-tissue index under the original's display table."""
        return display_table[self.level_of_grey]

    def grey(self, display_table: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """(H, W) uint8 soft tissue as shown under `display_table`."""
        return self.table(display_table)[self.indices]


def soft_tissue_base(soft: npt.NDArray[np.float32], pixels: npt.NDArray[np.float32],
                     indexed: IndexedImage) -> SoftTissueBase:
    """soft: (H, W) float32 soft-tissue view on the scale of `pixels` ((H, W) float32 in [0, 1], the
    study's first-VOI display pixels); indexed: the study's modality indices (same shape)."""
    soft = np.asarray(soft, dtype=np.float32)
    if soft.shape != pixels.shape or soft.shape != indexed.indices.shape:
        raise ValueError(f"soft tissue {soft.shape} does not match the study {pixels.shape}")
    indices = np.clip(np.rint(soft * np.float32(255.0)), 0, 255).astype(np.uint8)
    flat = indexed.indices.ravel()
    counts = np.bincount(flat, minlength=len(indexed.levels))
    present = np.flatnonzero(counts)
    grey_of_level = np.bincount(flat, weights=pixels.ravel(), minlength=len(indexed.levels))[present] / counts[present]
    order = np.argsort(grey_of_level, kind="stable")  # first VOI may invert (MONOCHROME1)
    greys = np.linspace(0.0, 1.0, 256)
    level = np.interp(greys, grey_of_level[order], present[order].astype(np.float64))
    return SoftTissueBase(indices, np.rint(level).astype(np.intp))
