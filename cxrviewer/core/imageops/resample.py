"""Resize and axis-aligned affine resampling in numpy, matching cv2.resize / cv2.warpAffine.

The viewer bundle must not carry OpenCV, so the four cv2.resize methods the viewer uses are rebuilt
here with cv2's own sampling rules (tests compare against cv2 itself):

- "nearest": source index floor(d * in/out), no half-pixel shift (cv2's INTER_NEAREST).
- "linear":  half-pixel centres, source x = (d + 0.5) * in/out - 0.5, two taps, edge replicated.
- "cubic":   the same centres, four taps of Keys' kernel with a = -0.75 (cv2's choice), edge replicated.
- "area":    when no axis grows, each output pixel is the exact area-weighted mean of the source
  pixels its footprint covers. When an axis grows cv2 does not average; it uses a two-tap rule on
  *both* axes (an output pixel wholly inside one source pixel copies it, one that straddles a source
  edge blends the two by its overlap). That rule is reproduced too, because callers hit it: a
  thumbnail of a small image grows, and `runtime.tiling` picks "area" by pixel count, so one axis may
  grow while the other shrinks.

Every method is separable: each axis gets a table of source indices and weights (taps), applied to
columns then rows, in the image's float precision, in cv2's order. That matters more than it seems:
a model's preprocessing quantises the resized image to 8 or 16 bits next, JPEG pixels (k/255) often
average to an exact rounding tie, and a one-ulp difference then moves a shipped model's output by
2e-5 (opacity-rsna's reference radiograph). Area is bit-identical to cv2 for float32 (bar the
order of very long sums); linear and cubic agree to ~1e-7 and ~1e-6 (tests/core/test_imageops_resample.py).
Zero-weight padding taps mean a NaN pixel can reach one pixel further than in cv2.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

Method = Literal["area", "linear", "cubic", "nearest"]
METHODS: tuple[str, ...] = ("area", "linear", "cubic", "nearest")
# Keys' cubic convolution parameter as cv2 uses it (scikit-image and PIL use -0.5).
_CUBIC_A = -0.75
# cv2 drops a partial-overlap area tap thinner than this (computeResizeAreaTab); kept for parity.
_AREA_MIN_OVERLAP = 1e-3

Taps = tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]  # (n_out, k) indices, (n_out, k) weights


def resize(image: npt.NDArray[np.generic], shape: tuple[int, int], method: Method) -> npt.NDArray[np.generic]:
    """image: (H, W) float32/float64/uint8/uint16, any range. shape: (height, width) of the result.
    Returns (height, width) of image's dtype, as cv2.resize(image, (width, height), interpolation=...)
    would. Integer results are rounded and clipped to the dtype's range; they can differ from cv2's
    by one level where cv2 uses fixed-point weights (8/16-bit linear and cubic)."""
    source = _check_image(image)
    height, width = (int(v) for v in shape)
    if height < 1 or width < 1:
        raise ValueError(f"resize target {shape} must be at least 1x1")
    if method not in METHODS:
        raise ValueError(f"resize method must be one of {METHODS}, got {method!r}")
    if source.shape == (height, width):
        return source.copy()
    if method == "nearest":
        rows = _nearest_index(source.shape[0], height)
        cols = _nearest_index(source.shape[1], width)
        return source[rows[:, None], cols[None, :]]
    if method == "area" and height <= source.shape[0] and width <= source.shape[1]:
        blocks = _integer_factors(source.shape, (height, width))
        if blocks is not None:
            # cv2's 2x2 integer path rounds (sum + 2) >> 2, i.e. half up; every other path cvRound.
            return _cast_like(_block_mean(source, blocks), source.dtype, half_up=blocks == (2, 2))
    y_taps = _resize_taps(source.shape[0], height, method, area_shrinks=width <= source.shape[1])
    x_taps = _resize_taps(source.shape[1], width, method, area_shrinks=height <= source.shape[0])
    return _cast_like(_separable(source, y_taps, x_taps), source.dtype)


def resample_affine(
    image: npt.NDArray[np.floating],
    matrix: npt.ArrayLike,
    shape: tuple[int, int],
    method: Literal["linear", "cubic", "nearest"] = "linear",
) -> npt.NDArray[np.float32]:
    """Axis-aligned affine resampling with edge replication (cv2.warpAffine with WARP_INVERSE_MAP
    and BORDER_REPLICATE, but with exact coordinates where cv2 rounds them to 1/32 pixel).

    image: (h, w) float, any range. matrix: 2x3 [[sx, 0, tx], [0, sy, ty]] taking an *output* pixel
    centre (x, y) to the source point (sx·x + tx, sy·y + ty) it samples. shape: (height, width) out.
    Returns (height, width) float32. "nearest" takes the pixel whose centre is nearest (ties upward);
    "cubic" is cv2's four-tap Keys kernel (a = -0.75), which passes through the source values at
    their centres and has a continuous slope (upsampled feature grids show no creases).
    """
    source = _check_image(image)
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (2, 3) or m[0, 1] != 0.0 or m[1, 0] != 0.0:
        raise ValueError(f"resample_affine needs an axis-aligned 2x3 matrix, got {m.tolist()}")
    if method not in ("linear", "cubic", "nearest"):
        raise ValueError(f"affine method must be 'linear', 'cubic' or 'nearest', got {method!r}")
    height, width = (int(v) for v in shape)
    ys = m[1, 1] * np.arange(height) + m[1, 2]
    xs = m[0, 0] * np.arange(width) + m[0, 2]
    taps = {"nearest": _nearest_taps, "linear": _linear_taps, "cubic": _cubic_taps}[method]
    result = _separable(source, taps(ys, source.shape[0]), taps(xs, source.shape[1]))
    return result.astype(np.float32)


def _check_image(image: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    source = np.asarray(image)
    if source.ndim != 2 or min(source.shape) < 1:
        raise ValueError(f"resampling needs a non-empty (H, W) image, got shape {source.shape}")
    if not (np.issubdtype(source.dtype, np.floating) or np.issubdtype(source.dtype, np.integer)):
        raise ValueError(f"resampling needs a numeric image, got dtype {source.dtype}")
    return source


def _scale(n_in: int, n_out: int) -> float:
    """Source pixels per output pixel, computed as cv2 does (1 / (out / in)), so its floors agree."""
    return 1.0 / (n_out / n_in)


def _nearest_index(n_in: int, n_out: int) -> npt.NDArray[np.intp]:
    """cv2 INTER_NEAREST: floor(d * scale), no half-pixel shift, clamped to the last pixel."""
    return np.minimum(np.floor(np.arange(n_out) * _scale(n_in, n_out)).astype(np.intp), n_in - 1)


def _integer_factors(src: tuple[int, ...], dst: tuple[int, int]) -> tuple[int, int] | None:
    """(ky, kx) when each source axis is an exact multiple of the output axis (cv2's fast area path)."""
    if src[0] % dst[0] or src[1] % dst[1]:
        return None
    return src[0] // dst[0], src[1] // dst[1]


def _block_mean(source: npt.NDArray[np.generic], blocks: tuple[int, int]) -> npt.NDArray[np.floating]:
    """(H, W) → (H/ky, W/kx) block means. Integers are summed exactly; floats are summed in cv2's
    order and precision (resizeAreaFast_), so the result is bit-identical: a ulp matters, because
    callers quantise to 8 or 16 bits next and a JPEG's k/255 pixels often average to a rounding tie."""
    ky, kx = blocks
    if not np.issubdtype(source.dtype, np.floating):
        h, w = source.shape[0] // ky, source.shape[1] // kx
        row_sums = source.reshape(h, ky, source.shape[1]).sum(axis=1, dtype=np.float64)
        return row_sums.reshape(h, w, kx).sum(axis=2) / (ky * kx)
    if ky * kx > 16:
        return _sum_large_blocks(source, blocks) * source.dtype.type(1.0 / (ky * kx))
    cells = [source[r::ky, c::kx] for r in range(ky) for c in range(kx)]
    total = _sum_in_fours(cells)
    if blocks == (2, 2):
        # cv2's SIMD 2x2 kernel adds the two rows' pairs, four output pixels at a time; the last
        # width % 4 pixels of a row go through the generic loop.
        body = 4 * (total.shape[1] // 4)
        total[:, :body] = (cells[0][:, :body] + cells[1][:, :body]) + (cells[2][:, :body] + cells[3][:, :body])
    return total * source.dtype.type(1.0 / (ky * kx))


def _sum_in_fours(cells: list[npt.NDArray[np.floating]]) -> npt.NDArray[np.floating]:
    """Σ cells as cv2's unrolled loop adds them: sum += ((c0 + c1) + c2) + c3, then one at a time."""
    total = np.zeros_like(cells[0])
    whole = len(cells) - len(cells) % 4
    for k in range(0, whole, 4):
        total += ((cells[k] + cells[k + 1]) + cells[k + 2]) + cells[k + 3]
    for cell in cells[whole:]:
        total += cell
    return total


def _sum_large_blocks(source: npt.NDArray[np.floating], blocks: tuple[int, int]) -> npt.NDArray[np.floating]:
    """`_sum_in_fours` over each block's pixels in row-major order without a Python loop per pixel:
    the quads' partial sums are added left to right by np.add.accumulate (sequential, not pairwise)."""
    ky, kx = blocks
    h, w, n = source.shape[0] // ky, source.shape[1] // kx, ky * kx
    whole = n - n % 4
    pixels = source.reshape(h, ky, w, kx).transpose(0, 2, 1, 3).reshape(h, w, n)
    quads = pixels[..., :whole].reshape(h, w, whole // 4, 4)
    partial = ((quads[..., 0] + quads[..., 1]) + quads[..., 2]) + quads[..., 3]
    total = np.add.accumulate(partial, axis=-1)[..., -1]
    for k in range(whole, n):
        total = total + pixels[..., k]
    return total


def _resize_taps(n_in: int, n_out: int, method: str, *, area_shrinks: bool) -> Taps:
    """Per-axis taps for cv2.resize. area_shrinks: the *other* axis does not grow (true area needs
    both axes to shrink or stay; otherwise cv2 switches both axes to its two-tap area rule)."""
    scale = _scale(n_in, n_out)
    if method == "area":
        if scale >= 1.0 and area_shrinks:
            return _area_taps(n_in, n_out, scale)
        return _area_upscale_taps(n_in, n_out, scale)
    # In float64: float32 coordinates are up to 3e-5 px off near x = 1000, and cv2 5.x is not.
    coord = (np.arange(n_out) + 0.5) * scale - 0.5
    if method == "linear":
        return _linear_taps(coord, n_in)
    return _cubic_taps(coord, n_in)


def _linear_taps(coord: npt.NDArray[np.floating], n_in: int) -> Taps:
    """Two taps at floor(c) and floor(c) + 1, indices clamped: cv2's edge replication (cv2 also zeroes
    the fraction at the left and right ends, which gives the same value up to an ulp)."""
    base = np.floor(coord)
    frac = (coord - base).astype(np.float64)
    index = base.astype(np.intp)[:, None] + np.arange(2)
    weights = np.stack([1.0 - frac, frac], axis=1)
    return np.clip(index, 0, n_in - 1), weights


def _nearest_taps(coord: npt.NDArray[np.float64], n_in: int) -> Taps:
    index = np.clip(np.floor(coord + 0.5).astype(np.intp), 0, n_in - 1)
    return index[:, None], np.ones((coord.size, 1))


def _cubic_taps(coord: npt.NDArray[np.float64], n_in: int) -> Taps:
    """Four taps at floor(c) - 1 .. floor(c) + 2 with cv2's interpolateCubic weights (the last is 1
    minus the others, so they sum to exactly 1 as in cv2)."""
    base = np.floor(coord)
    x = coord - base
    a = _CUBIC_A
    w0 = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a
    w1 = ((a + 2) * x - (a + 3)) * x * x + 1
    w2 = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1
    w3 = 1 - w0 - w1 - w2
    index = base.astype(np.intp)[:, None] + np.arange(-1, 3)
    weights = np.stack([w0, w1, w2, w3], axis=1)
    return np.clip(index, 0, n_in - 1), weights


def _area_taps(n_in: int, n_out: int, scale: float) -> Taps:
    """Exact overlap weights for a shrinking axis (cv2's computeResizeAreaTab, vectorised): output d
    covers source [d·scale, (d+1)·scale); whole pixels weigh 1/cell, the partial first and last pixel
    their covered fraction / cell; cell is the footprint clipped to the image. Weights are rounded to
    float32, as cv2 stores them."""
    start = np.arange(n_out) * scale
    end = start + scale
    cell = np.minimum(scale, n_in - start)
    last = np.minimum(np.floor(end), n_in - 1).astype(np.intp)
    first = np.minimum(np.ceil(start).astype(np.intp), last)
    n_full = int(np.ceil(scale)) + 1
    full = first[:, None] + np.arange(n_full)
    full_w = np.where(full < last[:, None], 1.0 / cell[:, None], 0.0)
    head_cover = first - start
    head_w = np.where(head_cover > _AREA_MIN_OVERLAP, head_cover / cell, 0.0)
    tail_cover = end - last
    tail_w = np.where(tail_cover > _AREA_MIN_OVERLAP, np.minimum(np.minimum(tail_cover, 1.0), cell) / cell, 0.0)
    index = np.concatenate([(first - 1)[:, None], full, last[:, None]], axis=1)
    weights = np.concatenate([head_w[:, None], full_w, tail_w[:, None]], axis=1)
    weights = weights.astype(np.float32).astype(np.float64)
    return np.clip(index, 0, n_in - 1), weights


def _area_upscale_taps(n_in: int, n_out: int, scale: float) -> Taps:
    """cv2's INTER_AREA rule once an axis grows: output d starts in source pixel s = floor(d·scale);
    the weight of pixel s + 1 is how far d's footprint reaches past s's right edge, in output pixels
    (0 when the footprint ends inside s), rounded to float32 as cv2 does."""
    index = np.floor(np.arange(n_out) * scale).astype(np.intp)
    reach = ((np.arange(n_out) + 1) - (index + 1) * (1.0 / scale)).astype(np.float32)
    frac = np.where(reach <= 0, np.float32(0), reach - np.floor(reach)).astype(np.float64)
    taps = index[:, None] + np.arange(2)
    return np.clip(taps, 0, n_in - 1), np.stack([1.0 - frac, frac], axis=1)


def _separable(source: npt.NDArray[np.generic], y_taps: Taps, x_taps: Taps) -> npt.NDArray[np.floating]:
    """Columns first, then rows, each tap added in turn in the image's own float precision: cv2's
    order and precision, so area results are bit-identical to cv2's and the others within an ulp or
    two (a different order would change ~40 % of the float32 pixels by an ulp, see `_block_mean`)."""
    work = _work_dtype(source.dtype)
    return _apply_rows(_apply_columns(source, x_taps, work), y_taps, work)


def _work_dtype(dtype: np.dtype) -> type[np.floating]:
    """float32 for float32 images, as cv2 computes; float64 for the rest (16-bit rounds exactly)."""
    return np.float32 if dtype == np.float32 else np.float64


def _apply_columns(source: npt.NDArray[np.generic], taps: Taps, work: type[np.floating]) -> npt.NDArray[np.floating]:
    """(m, n_in) → (m, n_out): column o = Σ_k weight[o, k] · source[:, index[o, k]]. One take gathers
    every tap into a contiguous (m, k, n_out) block, far faster than transposing a big image."""
    index, weights = taps[0], taps[1].astype(work)
    n_out, n_taps = index.shape
    gathered = np.take(source, index.T.ravel(), axis=1).reshape(source.shape[0], n_taps, n_out)
    out = gathered[:, 0].astype(work, copy=False) * weights[:, 0]
    for k in range(1, n_taps):
        out += gathered[:, k] * weights[:, k]
    return out


def _apply_rows(source: npt.NDArray[np.floating], taps: Taps, work: type[np.floating]) -> npt.NDArray[np.floating]:
    """(n_in, m) → (n_out, m): row o = Σ_k weight[o, k] · source[index[o, k]] (whole-row gathers)."""
    index, weights = taps[0], taps[1].astype(work)
    out = source[index[:, 0]] * weights[:, :1]
    if source.dtype != work:
        for k in range(1, index.shape[1]):
            out += source[index[:, k]] * weights[:, k : k + 1]
        return out
    # The same products and sums in the same order, through one reused buffer: an upscale to 2048²
    # then holds two full frames at a time, not three.
    term = np.empty_like(out)
    for k in range(1, index.shape[1]):
        np.take(source, index[:, k], axis=0, out=term)
        term *= weights[:, k : k + 1]
        out += term
    return out


def _cast_like(values: npt.NDArray[np.floating], dtype: np.dtype, *, half_up: bool = False) -> npt.NDArray[np.generic]:
    """Back to the input dtype: floats as they are, integers rounded (half to even like cv2's
    saturate_cast, or half up) and clipped."""
    if np.issubdtype(dtype, np.floating):
        return values.astype(dtype, copy=False)  # float32 work is already the result: no copy
    info = np.iinfo(dtype)
    rounded = np.floor(values + 0.5) if half_up else np.rint(values)
    return np.clip(rounded, info.min, info.max).astype(dtype)
