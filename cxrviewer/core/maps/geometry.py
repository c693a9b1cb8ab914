"""Maps from model space back onto the image grid.

A saliency map already has the model input's size; `core.preprocess.Geometry.to_image` undoes the
crop, resize and letterbox. A feature-grid map (CAM, Grad-CAM, CRM, channel activations) first needs
its cells placed on the model input: cell i's value belongs at the centre of its receptive field,
model pixel `stride · i + offset` (per axis). For a net whose convolutions are padded "same"
(k // 2) the centre is `stride · i` — the top-left pixel of the cell's block, not the block's middle;
for a net without padding (the sequential CNN) the offset is the sum of the trimmed borders. Treating
the grid as tiling the input (offset (stride − 1)/2) would misplace such maps by up to half a cell, so
the grid's placement is explicit (`FeatureGrid`) and computed from the layer chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cxrviewer.core.imageops.resample import resample_affine
from cxrviewer.core.preprocess import Geometry

Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class FeatureGrid:
    """Where feature cell (i, j) sits on the model input: y = stride[0]·i + offset[0], x likewise
    (pixel-centre coordinates, the convention of `core.preprocess`)."""

    stride: tuple[float, float]
    offset: tuple[float, float]

    @classmethod
    def tiling(cls, model_shape: tuple[int, int], grid_shape: tuple[int, int]) -> FeatureGrid:
        """Each cell at the middle of its block of the model input (the cv2.resize convention)."""
        sy, sx = model_shape[0] / grid_shape[0], model_shape[1] / grid_shape[1]
        return cls((sy, sx), ((sy - 1) / 2, (sx - 1) / 2))

    @classmethod
    def from_chain(cls, layers: Iterable[tuple[int, int, int]]) -> FeatureGrid:
        """Receptive-field centres of a chain of (kernel, stride, padding) conv/pool layers, input
        first: an output pixel o of one layer is centred on input pixel stride·o + (kernel−1)/2 − padding.
        Parallel branches of equal geometry (tb-net's 1×1 shortcut) count once."""
        stride, offset = 1.0, 0.0
        for kernel, step, padding in layers:
            offset += stride * ((kernel - 1) / 2 - padding)
            stride *= step
        return cls((stride, stride), (offset, offset))

    def to_model(self, grid_map: Array, model_shape: tuple[int, int]) -> Array:
        """grid_map (h, w) float32 → (H, W) float32 on the model input, bilinear between cell centres,
        edge cells' values carried to the border."""
        grid_map = np.asarray(grid_map, dtype=np.float32)
        if grid_map.ndim != 2:
            raise ValueError(f"feature map must be 2-D, got shape {grid_map.shape}")
        # Each model pixel samples the grid at (model coordinate − offset) / stride.
        matrix = np.array(
            [
                [1 / self.stride[1], 0.0, -self.offset[1] / self.stride[1]],
                [0.0, 1 / self.stride[0], -self.offset[0] / self.stride[0]],
            ]
        )
        return resample_affine(grid_map, matrix, model_shape, "linear")


def to_image(model_map: Array, geometry: Geometry, grid: FeatureGrid | None = None) -> Array:
    """A map in model space → (H, W) float32 on the image grid (0 outside what the model saw).

    model_map: (H_model, W_model) float32 (saliency) or (h, w) feature grid; `grid` places a feature
    grid's cells (default: `FeatureGrid.tiling`, exact only for nets whose cells are block-centred).
    """
    model_map = np.asarray(model_map, dtype=np.float32)
    if model_map.shape != tuple(geometry.model_shape):
        grid = grid or FeatureGrid.tiling(geometry.model_shape, model_map.shape)
        model_map = grid.to_model(model_map, geometry.model_shape)
    return geometry.to_image(model_map)
