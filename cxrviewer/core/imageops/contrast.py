"""The papers' contrast steps in numpy, bit-exact with the OpenCV calls the models were trained with.

The shipped models were trained on inputs made by cv2.createCLAHE, cv2.equalizeHist and
cv2.GaussianBlur. The viewer bundle leaves OpenCV out (152 MB, docs/packaging.md), so these
functions redo the same integer and float32 arithmetic, step by step, in OpenCV's order: the same
histogram clipping and redistribution, the same float32 lookup-table products rounded half to even,
the same fixed-point Gaussian. tests/core/test_imageops_contrast.py holds them equal to OpenCV.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cxrviewer.core.errors import ConfigError

# OpenCV's fixed Gaussian kernels for sigma <= 0 and a small odd size (getGaussianKernel's table),
# in 1/256 units: its 8-bit blur runs in fixed point with 8 fractional bits per pass.
_SMALL_GAUSSIAN_256 = {
    1: (256,),
    3: (64, 128, 64),
    5: (16, 64, 96, 64, 16),
    7: (8, 28, 56, 72, 56, 28, 8),
}
BLUR_KERNELS = tuple(_SMALL_GAUSSIAN_256)


def equalize_hist(image: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """image: (H, W) uint8. Returns (H, W) uint8 equal to cv2.equalizeHist: the darkest occupied
    level goes to 0, each next level to round(255 · cumulative count above it / count above it)."""
    values = np.asarray(image)
    if values.dtype != np.uint8 or values.ndim != 2:
        raise ValueError(f"equalize_hist needs a (H, W) uint8 image, got {values.dtype} {values.shape}")
    hist = np.bincount(values.ravel(), minlength=256)
    first = int(np.flatnonzero(hist)[0]) if values.size else 0
    if values.size == 0 or hist[first] == values.size:
        return values.copy()  # one grey level: OpenCV leaves it as it is
    scale = np.float32(255.0) / np.float32(values.size - hist[first])
    cumulative = np.cumsum(hist, dtype=np.int64) - hist[first]
    lut = np.rint(cumulative.astype(np.float32) * scale)
    lut[: first + 1] = 0
    return np.clip(lut, 0, 255).astype(np.uint8)[values]


def gaussian_blur_u8(image: npt.NDArray[np.uint8], kernel: int) -> npt.NDArray[np.uint8]:
    """image: (H, W) uint8; kernel: 1, 3, 5 or 7. Returns (H, W) uint8 equal to
    cv2.GaussianBlur(image, (kernel, kernel), 0): OpenCV's fixed kernel for that size, edges mirrored
    without repeating the edge pixel (BORDER_REFLECT_101), one rounding (half up) at the end."""
    values = np.asarray(image)
    if values.dtype != np.uint8 or values.ndim != 2:
        raise ValueError(f"gaussian_blur_u8 needs a (H, W) uint8 image, got {values.dtype} {values.shape}")
    if kernel not in BLUR_KERNELS:
        raise ConfigError(f"Gaussian blur kernel must be one of {BLUR_KERNELS}, got {kernel}")
    taps = np.asarray(_SMALL_GAUSSIAN_256[kernel], dtype=np.int64)
    radius = kernel // 2
    padded = _pad_reflect_101(values.astype(np.int64), ((radius, radius), (radius, radius)))
    height, width = values.shape
    rows = sum(int(tap) * padded[:, i : i + width] for i, tap in enumerate(taps))
    both = sum(int(tap) * rows[i : i + height, :] for i, tap in enumerate(taps))
    return ((both + (1 << 15)) >> 16).astype(np.uint8)


def clahe(image: npt.NDArray[np.uint16] | npt.NDArray[np.uint8], clip_limit: float, tiles: int) -> npt.NDArray:
    """image: (H, W) uint8 or uint16 (256 or 65536 histogram bins, as OpenCV). Returns the same shape
    and dtype, equal to cv2.createCLAHE(clip_limit, (tiles, tiles)).apply(image): a clipped,
    redistributed histogram equalisation per tile, blended bilinearly between tile centres."""
    values = np.asarray(image)
    if values.dtype not in (np.uint8, np.uint16) or values.ndim != 2:
        raise ValueError(f"clahe needs a (H, W) uint8 or uint16 image, got {values.dtype} {values.shape}")
    if tiles < 1:
        raise ConfigError(f"CLAHE needs at least one tile per side, got {tiles}")
    bins = 256 if values.dtype == np.uint8 else 65536
    luts, tile_shape = _tile_luts(values, clip_limit, tiles, bins)
    return _interpolate(values, luts, tile_shape, tiles)


def _tile_luts(values: npt.NDArray, clip_limit: float, tiles: int, bins: int) -> tuple[npt.NDArray, tuple[int, int]]:
    """(tiles, tiles, bins) lookup tables, one per tile, and the tile (height, width)."""
    height, width = values.shape
    # A size that does not split into whole tiles is extended by mirroring (BORDER_REFLECT_101) as
    # OpenCV does it: both axes by `tiles - size % tiles`, which is a whole extra row of tiles for an
    # axis that did divide.
    if height % tiles or width % tiles:
        extended = _pad_reflect_101(values, ((0, tiles - height % tiles), (0, tiles - width % tiles)))
    else:
        extended = values
    tile_h, tile_w = extended.shape[0] // tiles, extended.shape[1] // tiles
    area = tile_h * tile_w
    blocks = extended.reshape(tiles, tile_h, tiles, tile_w).transpose(0, 2, 1, 3).reshape(tiles * tiles, area)
    offsets = np.arange(tiles * tiles, dtype=np.int64)[:, None] * bins
    counts = np.bincount((blocks + offsets).ravel(), minlength=tiles * tiles * bins)
    hist = counts.astype(np.int32).reshape(tiles * tiles, bins)
    if clip_limit > 0:
        hist = _clip(hist, max(int(clip_limit * area / bins), 1), area, bins)
    lut_scale = np.float32(bins - 1) / np.float32(area)
    # Cumulative counts (exact in float32 below 2^24) times a float32 scale, rounded half to even.
    luts = np.rint(np.cumsum(hist, axis=1, dtype=np.int32).astype(np.float32) * lut_scale)
    dtype = np.uint8 if bins == 256 else np.uint16
    return np.clip(luts, 0, bins - 1).astype(dtype).reshape(tiles, tiles, bins), (tile_h, tile_w)


def _clip(hist: npt.NDArray[np.int32], limit: int, area: int, bins: int) -> npt.NDArray[np.int32]:
    """Each tile's counts (every tile holds `area` pixels) capped at `limit` in place; the excess is
    spread evenly over all bins, and what does not divide evenly goes one count each to every
    `bins // residual`-th bin from bin 0 (OpenCV's rule)."""
    np.minimum(hist, limit, out=hist)
    excess = area - hist.sum(axis=1, dtype=np.int64)
    hist += (excess // bins).astype(np.int32)[:, None]
    residual = excess % bins
    for tile in np.flatnonzero(residual):
        step = max(bins // int(residual[tile]), 1)
        hist[tile, np.arange(0, bins, step)[: int(residual[tile])]] += 1
    return hist


def _interpolate(values: npt.NDArray, luts: npt.NDArray, tile_shape: tuple[int, int], tiles: int) -> npt.NDArray:
    """Each pixel mapped through the four nearest tiles' tables, weighted bilinearly by its distance
    to their centres, in float32 and OpenCV's order of operations, rounded half to even."""
    tile_h, tile_w = tile_shape
    y_low, y_high, y_frac = _tile_weights(values.shape[0], tile_h, tiles)
    x_low, x_high, x_frac = _tile_weights(values.shape[1], tile_w, tiles)
    one = np.float32(1.0)
    ya, ya1 = y_frac[:, None], (one - y_frac)[:, None]
    xa, xa1 = x_frac[None, :], (one - x_frac)[None, :]

    def lut(rows: npt.NDArray, cols: npt.NDArray) -> npt.NDArray[np.float32]:
        return luts[rows[:, None], cols[None, :], values].astype(np.float32)

    top = lut(y_low, x_low) * xa1 + lut(y_low, x_high) * xa
    bottom = lut(y_high, x_low) * xa1 + lut(y_high, x_high) * xa
    result = np.rint(top * ya1 + bottom * ya)
    return np.clip(result, 0, np.iinfo(values.dtype).max).astype(values.dtype)


def _tile_weights(length: int, tile: int, tiles: int) -> tuple[npt.NDArray, npt.NDArray, npt.NDArray[np.float32]]:
    """Per pixel along one axis: the tile before and after its position among tile centres (clamped
    to the grid) and its float32 fraction of the way between them."""
    position = np.arange(length, dtype=np.float32) * (np.float32(1.0) / np.float32(tile)) - np.float32(0.5)
    low = np.floor(position).astype(np.int64)
    fraction = (position - low.astype(np.float32)).astype(np.float32)
    return np.clip(low, 0, tiles - 1), np.clip(low + 1, 0, tiles - 1), fraction


def _pad_reflect_101(values: npt.NDArray, widths: tuple[tuple[int, int], tuple[int, int]]) -> npt.NDArray:
    """OpenCV's default border (BORDER_REFLECT_101, numpy's "reflect"); along an axis one pixel
    long that is the pixel itself."""
    for axis in (0, 1):
        if any(widths[axis]):
            axis_widths = [widths[axis] if a == axis else (0, 0) for a in (0, 1)]
            values = np.pad(values, axis_widths, mode="reflect" if values.shape[axis] > 1 else "edge")
    return values
