"""Binary-image morphology in numpy: connected components, square erosion/dilation, and a bounded
Euclidean distance transform.

These replace OpenCV on the viewer's path (the bundle ships without it). Each function equals the
OpenCV call it replaces (tests/core/test_imageops_morphology.py checks that against cv2):

- `connected_components`: cv2.connectedComponentsWithStats(mask, connectivity=8) labels and areas.
- `erode` / `dilate`: cv2.erode / cv2.dilate with np.ones((k, k)) and the default (or replicated)
  border, on any integer or bool image (a min / max filter, not only a binary one).
- `distance_to_background`: cv2.distanceTransform(mask, DIST_L2, DIST_MASK_PRECISE) (the exact
  Euclidean distance) wherever that distance is at most `limit`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def connected_components(mask: npt.NDArray) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int64]]:
    """8-connected regions of mask (H, W) bool (or any dtype: non-zero is foreground).

    Returns labels (H, W) int32 in [0, n] (0 = background; regions numbered 1..n in the order of
    the first 2x2 block, in raster order, that holds a pixel of them, as OpenCV numbers them) and areas (n + 1,) int64 pixel counts, areas[0]
    being the background's.

    Works on runs (maximal horizontal stretches of foreground) rather than pixels, so the cost
    beyond two passes over the image grows with the number of runs, not of pixels.
    """
    fg = np.asarray(mask) != 0
    if fg.ndim != 2:
        raise ValueError(f"connected_components needs an (H, W) mask, got shape {fg.shape}")
    height, width = fg.shape
    stride = width + 2
    padded = np.zeros((height, stride), np.int8)  # a background column each side ends every run
    padded[:, 1:-1] = fg
    flat = padded.ravel()
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1  # alternately a run's first and one-past-last
    starts, stops = edges[0::2], edges[1::2]
    rows = starts // stride
    lengths = stops - starts
    run_count = starts.size
    parent = _merge_touching_runs(rows, starts - rows * stride, stops - rows * stride, stride)
    # OpenCV's default 8-connected labelling scans 2x2 blocks in raster order and numbers a region
    # by the first block it appears in; two regions never share a block (its pixels all touch).
    block_key = (rows // 2) * stride + (starts - rows * stride - 1) // 2
    first_block = np.full(run_count, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(first_block, parent, block_key)
    roots = np.flatnonzero(first_block < np.iinfo(np.int64).max)
    region_count = roots.size
    new_label = np.zeros(run_count, np.int32)
    new_label[roots[np.argsort(first_block[roots])]] = np.arange(1, region_count + 1, dtype=np.int32)
    run_label = new_label[parent]
    areas = np.zeros(region_count + 1, np.int64)
    np.add.at(areas, run_label, lengths)
    areas[0] = height * width - int(lengths.sum())
    # Paint the runs: +label at each run's start, -label one past its end, then a running sum.
    delta = np.zeros(flat.size + 1, np.int32)
    delta[starts] = run_label
    delta[stops] = -run_label
    labels = np.cumsum(delta[:-1], dtype=np.int32).reshape(height, stride)[:, 1:-1]
    return np.ascontiguousarray(labels), areas


def _merge_touching_runs(rows: npt.NDArray[np.int64], first: npt.NDArray[np.int64],
                         stop: npt.NDArray[np.int64], stride: int) -> npt.NDArray[np.int64]:
    """rows, first, stop: (R,) int64 row, first column and one-past-last column of each run, in
    raster order. Returns (R,) int64: for each run, the smallest run index of its 8-connected region."""
    run_count = rows.size
    if run_count == 0:
        return np.zeros(0, np.int64)
    # Run b (row r) touches run a (row r - 1) 8-connectedly when a.first <= b.stop and a.stop >= b.first
    # (stop is exclusive, so the columns differ by at most one). Keys row * stride + column keep the
    # rows apart, so one searchsorted finds, for every b, the runs of the row above that it touches.
    start_keys = rows * stride + first
    stop_keys = rows * stride + stop
    above = (rows - 1) * stride
    low = np.searchsorted(stop_keys, above + first, side="left")
    high = np.searchsorted(start_keys, above + stop, side="right")
    counts = np.maximum(high - low, 0)
    below_run = np.repeat(np.arange(run_count), counts)
    offsets = np.arange(below_run.size) - np.repeat(np.cumsum(counts) - counts, counts)
    above_run = np.repeat(low, counts) + offsets
    # Union by hooking each edge's larger root onto its smaller one, then jumping pointers to the
    # root, until no edge joins two roots: a handful of rounds for the shapes an image holds.
    parent = np.arange(run_count)
    while above_run.size:
        root_a, root_b = parent[above_run], parent[below_run]
        joining = root_a != root_b
        if not joining.any():
            break
        small = np.minimum(root_a[joining], root_b[joining])
        large = np.maximum(root_a[joining], root_b[joining])
        np.minimum.at(parent, large, small)
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped
    return parent


def erode(image: npt.NDArray, size: int) -> npt.NDArray:
    """The minimum over each size x size square (size odd), the square clipped to the image.

    image: (H, W) bool or any numeric dtype. Returns (H, W) of the same dtype. Equals
    cv2.erode(image, np.ones((size, size))) with its default border and with BORDER_REPLICATE,
    which agree for a square kernel (the replicated edge pixel is inside every clipped square).
    """
    return _square_filter(image, size, np.minimum)


def dilate(image: npt.NDArray, size: int) -> npt.NDArray:
    """The maximum over each size x size square (size odd), the square clipped to the image.

    image: (H, W) bool or any numeric dtype. Returns (H, W) of the same dtype; equals
    cv2.dilate(image, np.ones((size, size))) (default or replicated border).
    """
    return _square_filter(image, size, np.maximum)


def _square_filter(image: npt.NDArray, size: int, pick: np.ufunc) -> npt.NDArray:
    values = np.asarray(image)
    if values.ndim != 2:
        raise ValueError(f"a square filter needs an (H, W) image, got shape {values.shape}")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"the square's side must be odd and positive, got {size}")
    # A square is a row segment after a column segment, so two 1-D passes of size - 1 shifts each.
    out = _line_filter(values, size // 2, pick, axis=0)
    return _line_filter(out, size // 2, pick, axis=1)


def _line_filter(values: npt.NDArray, radius: int, pick: np.ufunc, axis: int) -> npt.NDArray:
    out = values.copy()
    moved = np.moveaxis(values, axis, 0)
    target = np.moveaxis(out, axis, 0)
    for shift in range(1, min(radius, moved.shape[0] - 1) + 1):
        pick(target[shift:], moved[:-shift], out=target[shift:])
        pick(target[:-shift], moved[shift:], out=target[:-shift])
    return out


def distance_to_background(mask: npt.NDArray, limit: float) -> npt.NDArray[np.float32]:
    """Euclidean distance from each foreground pixel to the nearest background pixel.

    mask: (H, W) bool (or any dtype: non-zero is foreground); limit: >= 0. Returns (H, W) float32:
    0 on background; the exact distance sqrt(dy^2 + dx^2) wherever it is <= limit; some value
    > limit (np.inf when no background lies within `limit` columns) elsewhere. Pixels outside the
    image are not background (pad the mask with 0 to count the edge as background).

    Two exact passes: the vertical distance to the nearest background pixel in each column, then
    for each pixel the minimum of dx^2 + that vertical distance^2 over |dx| <= limit. The second pass
    is 2 * limit shifted minima over the image, so its cost grows with `limit`.
    """
    fg = np.asarray(mask) != 0
    if fg.ndim != 2:
        raise ValueError(f"distance_to_background needs an (H, W) mask, got shape {fg.shape}")
    if limit < 0:
        raise ValueError(f"the distance limit must be >= 0, got {limit}")
    distance = np.zeros(fg.shape, np.float32)
    rows, columns = np.flatnonzero(fg.any(axis=1)), np.flatnonzero(fg.any(axis=0))
    if rows.size:
        # Work on the foreground's bounding box and the one-pixel background ring around it (where
        # the image has one): every pixel beyond is background too, so it changes nothing.
        top, left = max(rows[0] - 1, 0), max(columns[0] - 1, 0)
        bottom, right = rows[-1] + 2, columns[-1] + 2
        distance[top:bottom, left:right] = _bounded_distance(fg[top:bottom, left:right], limit)
    return distance


def _bounded_distance(fg: npt.NDArray[np.bool_], limit: float) -> npt.NDArray[np.float32]:
    reach = int(np.floor(limit))
    width = fg.shape[1]
    # Squared distances up to reach^2 must stay exact; anything beyond is capped at cap (> reach^2),
    # in the smallest unsigned type that holds 2 * cap.
    cap = (reach + 1) ** 2
    dtype = np.uint16 if 2 * cap < np.iinfo(np.uint16).max else np.uint32
    best = _vertical_squared(fg, reach + 1).astype(dtype)
    column_best = best.copy()
    pair = np.empty_like(best)
    for shift in range(1, min(reach, width - 1) + 1):
        # Both neighbours at this |dx| at once, then + dx^2 once.
        pair[:, :shift] = cap
        pair[:, shift:] = column_best[:, :-shift]
        np.minimum(pair[:, :-shift], column_best[:, shift:], out=pair[:, :-shift])
        np.add(pair, shift * shift, out=pair)
        np.minimum(best, pair, out=best)
    distance = np.sqrt(best.astype(np.float32))
    distance[best >= cap] = np.inf
    return distance


def _vertical_squared(fg: npt.NDArray[np.bool_], cap: int) -> npt.NDArray[np.int32]:
    """fg (H, W) bool → (H, W) int32 squared distance to the nearest background pixel in the same
    column, capped at cap^2 (also where a column has no background)."""
    height = fg.shape[0]
    index = np.arange(height, dtype=np.int32)[:, None]
    far = np.int32(height + cap)
    last_above = np.maximum.accumulate(np.where(fg, -far, index), axis=0)
    next_below = np.minimum.accumulate(np.where(fg, far + height, index)[::-1], axis=0)[::-1]
    nearest = np.minimum(np.minimum(index - last_above, next_below - index), cap)
    return nearest * nearest
