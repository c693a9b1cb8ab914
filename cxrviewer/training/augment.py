"""Training-time augmentation on model-size arrays: affine (rotation, shift, zoom), horizontal flip,
sharpness, autocontrast (Group-Q) and elastic deformation (Pasa 2019).

Geometry is drawn once per item and applied identically to every array of a pair (input, target,
mask), masks with nearest-neighbour so they stay binary. Randomness comes from a generator the
caller seeds per (seed, epoch, item), so a run is reproducible whatever the worker count.
"""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from cxrviewer.training.config import AugmentConfig

Array = npt.NDArray[np.float32]


def _affine(cfg: AugmentConfig, rng: np.random.Generator, h: int, w: int) -> npt.NDArray[np.float64] | None:
    angle = rng.uniform(-cfg.rotation_deg, cfg.rotation_deg) if cfg.rotation_deg else 0.0
    scale = rng.uniform(1 - cfg.zoom, 1 + cfg.zoom) if cfg.zoom else 1.0
    tx = rng.uniform(-cfg.shift, cfg.shift) * w if cfg.shift else 0.0
    ty = rng.uniform(-cfg.shift, cfg.shift) * h if cfg.shift else 0.0
    flip = cfg.hflip > 0 and rng.random() < cfg.hflip
    if angle == 0 and scale == 1 and tx == 0 and ty == 0 and not flip:
        return None
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle, scale)
    matrix[:, 2] += (tx, ty)
    if flip:  # mirror after the affine: x -> (w - 1) - x
        matrix = np.array([[-1.0, 0.0, w - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([matrix, [0, 0, 1]])
    return matrix


def _elastic(cfg: AugmentConfig, rng: np.random.Generator, h: int, w: int) -> tuple[Array, Array] | None:
    if not (cfg.elastic > 0 and rng.random() < cfg.elastic):
        return None
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), cfg.elastic_sigma)
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), cfg.elastic_sigma)
    # Normalise so elastic_alpha is the largest displacement in pixels, whatever sigma smooths away.
    peak = max(float(np.abs(dx).max()), float(np.abs(dy).max()), 1e-6)
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return grid_x + dx * (cfg.elastic_alpha / peak), grid_y + dy * (cfg.elastic_alpha / peak)


def _warp(channels: Array, matrix, field, nearest: bool) -> Array:
    interp = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    out = []
    for plane in channels:
        if matrix is not None:
            plane = cv2.warpAffine(plane, matrix, (plane.shape[1], plane.shape[0]), flags=interp,
                                   borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        if field is not None:
            plane = cv2.remap(plane, field[0], field[1], interp, borderMode=cv2.BORDER_REFLECT)
        out.append(plane)
    return np.stack(out).astype(np.float32)


def _sharpness(image: Array, factor: float) -> Array:
    """PIL/torchvision ImageEnhance.Sharpness: blend with a 3x3 smoothed copy (factor 0 blurred,
    1 unchanged, 2 sharpened)."""
    kernel = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], np.float32) / 13.0
    smooth = np.stack([cv2.filter2D(p, -1, kernel, borderType=cv2.BORDER_REPLICATE) for p in image])
    return np.clip(smooth + factor * (image - smooth), 0.0, 1.0).astype(np.float32)


def _autocontrast(image: Array) -> Array:
    low, high = float(image.min()), float(image.max())
    return image if high <= low else ((image - low) / (high - low)).astype(np.float32)


def _acquisition(cfg: AugmentConfig, rng: np.random.Generator, image: Array) -> Array:
    """Exposure, resolution, blur and noise changes of the input only (issue 16: differences between
    hospitals' films). Each is drawn with its own probability; the result stays in [0, 1]."""
    _, h, w = image.shape
    if cfg.exposure > 0 and rng.random() < cfg.exposure:
        gamma = float(np.exp(rng.uniform(np.log(0.6), np.log(1.6))))
        low, high = rng.uniform(-0.1, 0.1), 1.0 + rng.uniform(-0.1, 0.1)
        image = np.clip((np.clip(image, 0.0, 1.0) ** gamma - low) / (high - low), 0.0, 1.0).astype(np.float32)
    if cfg.resolution > 0 and rng.random() < cfg.resolution:
        factor = rng.uniform(0.35, 0.9)
        small = (max(8, round(w * factor)), max(8, round(h * factor)))
        image = np.stack([cv2.resize(cv2.resize(p, small, interpolation=cv2.INTER_AREA), (w, h),
                                     interpolation=cv2.INTER_LINEAR) for p in image]).astype(np.float32)
    if cfg.blur > 0 and rng.random() < cfg.blur:
        sigma = rng.uniform(0.3, 1.5)
        image = np.stack([cv2.GaussianBlur(p, (0, 0), sigma) for p in image]).astype(np.float32)
    if cfg.noise > 0 and rng.random() < cfg.noise:
        image = np.clip(image + rng.normal(0.0, rng.uniform(0.0, 0.04), image.shape), 0.0, 1.0).astype(np.float32)
    return image


def _crop(size: int, rng: np.random.Generator, image: Array, target: Array | None, mask: Array | None):
    """A size x size window; centred on a random mask pixel when the mask has any, so a crop of a
    lung-masked pair always holds lung for the loss to see."""
    _, h, w = image.shape
    inside = np.argwhere(mask[0] > 0.5) if mask is not None else np.zeros((0, 2))
    cy, cx = inside[rng.integers(len(inside))] if len(inside) else (rng.integers(h), rng.integers(w))
    y0 = int(np.clip(cy - size // 2, 0, h - size))
    x0 = int(np.clip(cx - size // 2, 0, w - size))
    window = (slice(None), slice(y0, y0 + size), slice(x0, x0 + size))
    return image[window], None if target is None else target[window], None if mask is None else mask[window]


def augment(
    cfg: AugmentConfig, rng: np.random.Generator, image: Array, *, target: Array | None = None,
    mask: Array | None = None,
) -> tuple[Array, Array | None, Array | None]:
    """image: (C, h, w) float32 in [0, 1] (before value scaling); target: (C', h, w) float32 or None;
    mask: (1, h, w) float32 {0, 1} or None. Returns them transformed, same dtypes; with `cfg.crop`
    the last two axes become (crop, crop), otherwise the shapes are kept.
    Intensity changes (sharpness, autocontrast) touch the input only, never the target."""
    _, h, w = image.shape
    matrix = _affine(cfg, rng, h, w)
    field = _elastic(cfg, rng, h, w)
    if matrix is not None or field is not None:
        image = _warp(image, matrix, field, nearest=False)
        target = None if target is None else _warp(target, matrix, field, nearest=False)
        mask = None if mask is None else _warp(mask, matrix, field, nearest=True)
    if cfg.crop:
        image, target, mask = _crop(cfg.crop, rng, image, target, mask)
    image = _acquisition(cfg, rng, image)
    if cfg.sharpness > 0 and rng.random() < cfg.sharpness:
        image = _sharpness(image, rng.uniform(0.0, 2.0))
    if cfg.autocontrast > 0 and rng.random() < cfg.autocontrast:
        image = _autocontrast(image)
    return image, target, mask
