"""The lung mask the viewer uses: the segmentation model's probability, cleaned of stray regions.

A lung model trained on JSRT and OpenIST sometimes marks a patch outside the chest (air beside the
shoulder, a burned-in label). The two lungs are the two largest regions of a frontal radiograph, so
every other region is dropped: on lungs-unet's held-out test images this raised the full-resolution
Dice from 0.9727 to 0.9749 on OpenIST (worst image 0.849 → 0.958) and from 0.9761 to 0.9767 on JSRT.
It cannot help when the model's error is one of the two largest regions (an AP film where the
abdomen is marked), which the card's limits say.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cxrviewer.core.imageops.morphology import connected_components, dilate

LUNG_LEVEL = 0.5
LUNG_REGIONS = 2
# Below this share of the film marked as lung, the lung model found none: a lung-cropped classifier
# then sees the whole film (as its training did), rather than a box around a stray patch.
LUNG_CROP_MIN_FRACTION = 0.02


def keep_largest_regions(probability: npt.NDArray[np.floating], count: int = LUNG_REGIONS,
                         level: float = LUNG_LEVEL) -> npt.NDArray[np.float32]:
    """probability: (H, W) in [0, 1]. Returns (H, W) float32: the same probabilities inside the
    `count` largest 8-connected regions at or above `level`, 0 elsewhere."""
    values = np.asarray(probability, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"a lung probability map must be (H, W), got shape {values.shape}")
    labels, areas = connected_components(values >= level)
    if areas.size - 1 <= count:
        return values.copy()
    largest = np.argsort(areas[1:])[::-1][:count] + 1
    # Below-level pixels next to a kept region keep their probability (the feathered edge);
    # those near a dropped region are cleared with it.
    kept_label = np.zeros(areas.size, bool)
    kept_label[largest] = True
    kept = kept_label[labels]
    grown = dilate(kept, 5)
    dropped = (labels > 0) & ~kept
    return np.where(grown & ~dropped, values, 0.0).astype(np.float32)


def lung_crop_box(probability: npt.NDArray[np.floating], margin: float) -> tuple[int, int, int, int]:
    """The (y0, x0, y1, x1) box a `lung_crop` input contract crops to: around the pixels at or above
    LUNG_LEVEL of the lung model's probability on the film's own grid, grown by `margin` of its size
    on each side; the whole film when under LUNG_CROP_MIN_FRACTION of it is marked. Training (the
    tb_screen source) and the viewer crop by this one rule."""
    from cxrviewer.core.preprocess import lung_box

    lungs = np.asarray(probability) >= LUNG_LEVEL
    height, width = lungs.shape
    if lungs.mean() <= LUNG_CROP_MIN_FRACTION:
        return (0, 0, height, width)
    return lung_box(lungs, margin)


def keep_inside_lungs(map_values: npt.NDArray[np.floating],
                      lung_probability: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    """An explanation map as the viewer draws it with "Inside the lungs only": the map times the
    study's P(lung) (both (H, W) on the film's grid), so nothing is coloured outside the lungs and
    the lungs' feathered edge fades it. The one rule the viewer (`gui.lung_masking`) and the
    localisation table (`analysis.localisation_measure`) both apply, so the table measures what is drawn."""
    return map_values * lung_probability
