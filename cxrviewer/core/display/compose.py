"""Explanation overlays: normalisation, thresholds, opacity, contours, and the ONE compositing rule
shared by the canvas and every export.

The fast path follows pyqtgraph's ImageItem: a raw map is turned into a uint8 index image once
(`index_map`, under an explicit `Normalisation`); a threshold, opacity or colour-map change then only
rebuilds a 256-entry RGBA table (`build_lut`), whose alpha carries both the threshold (0 below it)
and the opacity. The canvas shows `index` through that table on an item at opacity 1; `compose` draws
exactly the same thing in numpy for exports, with 8-bit source-over blending, layer by layer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from cxrviewer.core.display.colormaps import COLORMAPS, colormap
from cxrviewer.core.imageops.morphology import erode

Lut = npt.NDArray[np.uint8]  # (256, 4) RGBA


@dataclass(frozen=True)
class Normalisation:
    """Which map values index 0 and 255 stand for.

    "per_image" (default): [min(0, map min), map max] of each map, so every map uses the full colour
    range but colours are not comparable across studies. "fixed": [low, high] for every map of a
    worklist (see `across`), so equal colours mean equal values; values outside are clipped.
    """

    mode: Literal["per_image", "fixed"] = "per_image"
    low: float = 0.0
    high: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in ("per_image", "fixed"):
            raise ValueError(f"normalisation mode must be 'per_image' or 'fixed', got {self.mode!r}")
        if self.mode == "fixed" and not self.high > self.low:
            raise ValueError(f"fixed normalisation needs high > low, got [{self.low}, {self.high}]")

    @classmethod
    def across(cls, maps: Iterable[npt.NDArray]) -> Normalisation:
        """A fixed scale covering every map of a worklist: [min(0, least value), greatest value]."""
        arrays = [np.asarray(m) for m in maps]
        if not arrays:
            raise ValueError("a fixed normalisation needs at least one map")
        low = min(0.0, min(float(a.min()) for a in arrays))
        high = max(float(a.max()) for a in arrays)
        return cls("fixed", low, high if high > low else low + 1.0)

    def range_for(self, values: npt.NDArray) -> tuple[float, float]:
        if self.mode == "fixed":
            return self.low, self.high
        low, high = min(0.0, float(values.min())), float(values.max())
        return low, (high if high > low else low + 1.0)

    def describe(self) -> str:
        """What the UI shows beside the colour bar."""
        if self.mode == "per_image":
            return "per image: 0 to this map's maximum"
        return f"fixed for every study: {self.low:.4g} to {self.high:.4g}"


@dataclass(frozen=True)
class Threshold:
    """Which values are drawn: "fraction" of the map's maximum (Kim 2019 show CRM above 0.2),
    "percentile" of the map's values (0–100), "value", a raw map value (a probability map's own
    operating point, comparable across studies), or "none" (everything)."""

    mode: Literal["fraction", "percentile", "value", "none"] = "fraction"
    value: float = 0.2

    def __post_init__(self) -> None:
        limits = {"fraction": (0.0, 1.0), "percentile": (0.0, 100.0), "value": (-np.inf, np.inf),
                  "none": (0.0, np.inf)}
        if self.mode not in limits:
            raise ValueError(
                f"threshold mode must be 'fraction', 'percentile', 'value' or 'none', got {self.mode!r}")
        low, high = limits[self.mode]
        if not (np.isfinite(self.value) and low <= self.value <= high):
            raise ValueError(f"{self.mode} threshold {self.value} is outside [{low:g}, {high:g}]")


CRM_THRESHOLD = Threshold("fraction", 0.2)


@dataclass(frozen=True)
class OverlayStyle:
    """A layer's display choices; changing any of them rebuilds only the 256-entry table."""

    colormap: str = "jet"
    threshold: Threshold = Threshold()
    opacity: float = 0.5
    contour: bool = False
    contour_rgb: tuple[int, int, int] = (255, 255, 255)

    def __post_init__(self) -> None:
        if self.colormap not in COLORMAPS:
            raise ValueError(f"unknown colour map {self.colormap!r}; known: {', '.join(COLORMAPS)}")
        if not 0.0 <= self.opacity <= 1.0:
            raise ValueError(f"opacity must be within [0, 1], got {self.opacity}")


@dataclass(frozen=True, eq=False)
class IndexedMap:
    """A map quantised once for display.

    index: (H, W) uint8, value v at round((v − low) / (high − low) · 255), clipped to 0..255.
    histogram: (256,) int64 counts of `index` (percentile thresholds without touching pixels).
    maximum: the raw map's largest value (fraction-of-maximum thresholds).
    row_max, column_max: (H,) and (W,) uint8, the largest index of each row and column, so the box
    of what a threshold shows is found without touching pixels (contours are drawn within it).
    """

    index: npt.NDArray[np.uint8]
    low: float
    high: float
    maximum: float
    histogram: npt.NDArray[np.int64]
    normalisation: Normalisation
    row_max: npt.NDArray[np.uint8]
    column_max: npt.NDArray[np.uint8]

    def index_of(self, value: float) -> int:
        return int(np.clip(np.round((value - self.low) / (self.high - self.low) * 255.0), 0, 255))


def index_map(values: npt.NDArray[np.float32], normalisation: Normalisation = Normalisation()) -> IndexedMap:
    """values (H, W) float32 raw map (any range) → its IndexedMap (done once per map and scale)."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2:
        raise ValueError(f"a map to display must be 2-D, got shape {values.shape}")
    low, high = normalisation.range_for(values)
    scaled = (values - np.float32(low)) * np.float32(255.0 / (high - low))
    index = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    histogram = np.bincount(index.ravel(), minlength=256).astype(np.int64)
    return IndexedMap(index, low, high, float(values.max()), histogram, normalisation,
                      index.max(axis=1), index.max(axis=0))


def threshold_index(indexed: IndexedMap, threshold: Threshold) -> int:
    """The smallest index drawn; pixels with a lower index are fully transparent. Thresholds are
    resolved at display resolution (1/255 of the normalisation range)."""
    if threshold.mode == "none":
        return 0
    if threshold.mode == "fraction":
        # A zero threshold still hides the map's zeros (a rectified map's background).
        return max(indexed.index_of(threshold.value * indexed.maximum), indexed.index_of(0.0) + 1)
    if threshold.mode == "value":
        return indexed.index_of(threshold.value)
    cumulative = np.cumsum(indexed.histogram)
    rank = threshold.value / 100.0 * cumulative[-1]
    return int(np.searchsorted(cumulative, rank, side="left"))


def build_lut(style: OverlayStyle, first_shown: int) -> Lut:
    """(256, 4) uint8 RGBA: the colour map, alpha = opacity·255 from `first_shown` up, 0 below."""
    lut = colormap(style.colormap).copy()
    lut[:, 3] = 0
    lut[first_shown:, 3] = int(round(style.opacity * 255))
    return lut


def apply_lut(index: npt.NDArray[np.uint8], lut: Lut) -> npt.NDArray[np.uint8]:
    """index (H, W) uint8 through lut (256, 4) → (H, W, 4) uint8 RGBA (one 32-bit gather per pixel)."""
    packed = np.ascontiguousarray(lut).view(np.uint32).reshape(256)
    return packed[index].view(np.uint8).reshape(*index.shape, 4)


@dataclass(frozen=True, eq=False)
class Rim:
    """A contour: mask (h, w) bool, the rim pixels of the box whose top-left image pixel is
    (top, left). Only the box of what is shown is kept, so a threshold step on a small lesion map
    computes, uploads and paints a few thousand pixels, not the whole film."""

    mask: npt.NDArray[np.bool_]
    top: int = 0
    left: int = 0

    def full(self, shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
        """(H, W) bool: the rim on the whole image grid of `shape`."""
        out = np.zeros(shape, dtype=bool)
        out[self.top : self.top + self.mask.shape[0], self.left : self.left + self.mask.shape[1]] = self.mask
        return out


def contour_mask(indexed: IndexedMap, first_shown: int, width: int = 1) -> Rim:
    """The inner rim, `width` pixels thick, of the region drawn at this threshold: 1 at the image's
    own resolution, as exports draw it; the canvas zoomed out asks for as many pixels as one screen
    pixel spans, since a one-pixel rim would show broken there."""
    if width < 1:
        raise ValueError(f"a rim is at least one pixel wide, got {width}")
    rows = np.flatnonzero(indexed.row_max >= first_shown)
    columns = np.flatnonzero(indexed.column_max >= first_shown)
    if rows.size == 0 or columns.size == 0:
        return Rim(np.zeros((0, 0), dtype=bool))
    # The box of what is shown, `width` pixels more on each side where the image goes on, so the
    # box's own edge is not mistaken for the image's.
    height, image_width = indexed.index.shape
    y0, y1 = max(int(rows[0]) - width, 0), min(int(rows[-1]) + 1 + width, height)
    x0, x1 = max(int(columns[0]) - width, 0), min(int(columns[-1]) + 1 + width, image_width)
    shown = indexed.index[y0:y1, x0:x1] >= first_shown
    # The image edge is not a rim: the square minimum ignores pixels beyond the image.
    return Rim(shown & ~erode(shown, 2 * width + 1), y0, x0)


@dataclass(frozen=True, eq=False)
class Layer:
    """One overlay ready to draw: index (H, W) uint8 through lut (256, 4), plus an optional contour
    drawn opaque in contour_rgb on top."""

    index: npt.NDArray[np.uint8]
    lut: Lut
    contour: Rim | None = None
    contour_rgb: tuple[int, int, int] = (255, 255, 255)


def layer(indexed: IndexedMap, style: OverlayStyle) -> Layer:
    """The Layer of an indexed map under a style (cheap: a 256-entry table, and the rim if asked)."""
    first = threshold_index(indexed, style.threshold)
    rim = contour_mask(indexed, first) if style.contour else None
    return Layer(indexed.index, build_lut(style, first), rim, style.contour_rgb)


def blend(base_rgb: npt.NDArray[np.uint8], rgba: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """8-bit source-over: (base·(255 − α) + colour·α) / 255, rounded to nearest. (H, W, 3) uint8 out."""
    alpha = rgba[..., 3:4].astype(np.uint32)
    mixed = base_rgb.astype(np.uint32) * (255 - alpha) + rgba[..., :3].astype(np.uint32) * alpha
    return ((mixed + 127) // 255).astype(np.uint8)


def compose(base_grey: npt.NDArray[np.uint8], layers: Sequence[Layer]) -> npt.NDArray[np.uint8]:
    """base_grey (H, W) uint8 display pixels with `layers` drawn over it in order → (H, W, 3) uint8.

    The single compositing rule of the application: the canvas draws the same tables with the same
    blending, and exports call this.
    """
    base_grey = np.asarray(base_grey)
    if base_grey.dtype != np.uint8 or base_grey.ndim != 2:
        raise ValueError(f"base must be (H, W) uint8, got {base_grey.dtype} {base_grey.shape}")
    out = np.repeat(base_grey[..., None], 3, axis=2)
    for item in layers:
        if item.index.shape != base_grey.shape:
            raise ValueError(f"layer {item.index.shape} does not match the base {base_grey.shape}")
        out = blend(out, apply_lut(item.index, item.lut))
        if item.contour is not None:
            rim = item.contour
            box = out[rim.top : rim.top + rim.mask.shape[0], rim.left : rim.left + rim.mask.shape[1]]
            box[rim.mask] = item.contour_rgb
    return out
