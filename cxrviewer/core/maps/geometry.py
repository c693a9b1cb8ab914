"""Maps from model space back onto the image grid.

A saliency map already has the model input's size; `core.preprocess.Geometry.to_image` undoes the
crop, resize and letterbox. A feature-grid map (CAM, Grad-CAM, CRM, channel activations) first needs
its cells placed on the model input: cell i's value belongs at the centre of its receptive field,
model pixel `stride · i + offset` (per axis). For a net whose convolutions are padded "same"
(k // 2) the centre is `stride · i` — the top-left pixel of the cell's block, not the block's middle;
for a net without padding (the sequential CNN) the offset is the sum of the trimmed borders. Treating
the grid as tiling the input (offset (stride − 1)/2) would misplace such maps by up to half a cell, so
the grid's placement is explicit (`FeatureGrid`) and computed from the layer chain.

Between cell centres the grid is drawn bicubic (the project's cv2-equal cubic, `resample_affine`),
so a 7×7 or 2×2 grid shows as smooth hills with no creases ("diamonds") where bilinear's slope jumps
at every centre. The cubic's dip below the grid's least cell is clipped, so a rectified map never
turns negative (those values lie under any display threshold); its small rise above the hottest cell
is kept, since clipping there would crease the hot spot the reader looks at. Beyond the outermost centres, up to the edge of the box the model saw, the map fades
to 0 with a smoothstep (value and slope continuous at the centre and at the edge) instead of
carrying the edge cells to the border, which drew constant stripes to the film's edge; outside
the box it is 0 (`Geometry.to_image`). Each cell's value is kept at its centre.
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

    def to_model(self, grid_map: Array, model_shape: tuple[int, int],
                 box: tuple[int, int, int, int] | None = None) -> Array:
        """grid_map (h, w) float32 → (H, W) float32 on the model input: bicubic between cell centres,
        not below the grid's least cell, fading to 0 from the outermost centres to the edges of `box`
        (y0, x0, y1, x1 model pixels, end exclusive; default the whole input) and 0 outside it."""
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
        smooth = resample_affine(grid_map, matrix, model_shape, "cubic")
        np.maximum(smooth, grid_map.min(), out=smooth)
        y0, x0, y1, x1 = box if box is not None else (0, 0, *model_shape)
        rows = _fade(model_shape[0], grid_map.shape[0], self.stride[0], self.offset[0], y0, y1)
        columns = _fade(model_shape[1], grid_map.shape[1], self.stride[1], self.offset[1], x0, x1)
        return (smooth * rows[:, None] * columns[None, :]).astype(np.float32)


def _fade(size: int, cells: int, stride: float, offset: float, start: int, end: int) -> npt.NDArray[np.float32]:
    """(size,) weights along one axis: 1 between the outermost cell centres inside [start, end), a
    smoothstep down to 0 at the box's edges (start − ½ and end − ½, pixel-centre coordinates), 0
    outside. A centre on or beyond an edge leaves no room to fade: that side stays 1 up to the edge."""
    position = np.arange(size, dtype=np.float64)
    centres = offset + stride * np.arange(cells)
    low_edge, high_edge = start - 0.5, end - 0.5
    inside = centres[(centres > low_edge) & (centres < high_edge)]
    first, last = (inside[0], inside[-1]) if inside.size else (low_edge, high_edge)
    weight = np.ones(size)
    if first > low_edge:
        weight *= _smoothstep((position - low_edge) / (first - low_edge))
    if last < high_edge:
        weight *= _smoothstep((high_edge - position) / (high_edge - last))
    weight[(position < start) | (position >= end)] = 0.0
    return weight.astype(np.float32)


def _smoothstep(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """3t² − 2t³ on [0, 1] (0 below, 1 above): flat at both ends, so the fade adds no crease."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def to_image(model_map: Array, geometry: Geometry, grid: FeatureGrid | None = None) -> Array:
    """A map in model space → (H, W) float32 on the image grid (0 outside what the model saw; a
    feature grid smooth and fading to 0 at the edges of what the model saw, see the module's note).

    model_map: (H_model, W_model) float32 (saliency) or (h, w) feature grid; `grid` places a feature
    grid's cells (default: `FeatureGrid.tiling`, exact only for nets whose cells are block-centred).
    """
    model_map = np.asarray(model_map, dtype=np.float32)
    if model_map.shape != tuple(geometry.model_shape):
        grid = grid or FeatureGrid.tiling(geometry.model_shape, model_map.shape)
        model_map = grid.to_model(model_map, geometry.model_shape, geometry.content_box)
    return geometry.to_image(model_map)
