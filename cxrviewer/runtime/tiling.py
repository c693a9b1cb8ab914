"""Fit an image of any size to an image-to-image net's fixed working size, and back.

"tile" (bone suppression: keep every pixel of the radiograph) runs overlapping working-size tiles
and keeps from each only the part at least `margin` pixels away from a cut edge, so every output
pixel saw `margin` pixels of real context; images smaller than a tile are edge-padded. "resize"
(segmentation: the net must see the whole chest at once) scales to the working size and back.
"rescale_residual" (bone suppression trained on 512² JSRT films): the net learned ribs at the size
they have in a 512-pixel-long radiograph, so a larger image is first scaled (aspect kept) until its
long side fits the working size, the net runs there (tiled, edge-padded), and only what it removed,
the smooth bone estimate, is scaled back up and subtracted from the full-resolution original: the
reader keeps every original pixel's detail, and the net sees anatomy at the scale it was trained on.
Both backends use this, so ONNX and PyTorch tile identically.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from cxrviewer.core.cards import ModelCard
from cxrviewer.core.errors import ModelError
from cxrviewer.core.imageops.resample import resize
from cxrviewer.core.preprocess import Step, apply_steps

RunTile = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]


def default_margin(working: tuple[int, int]) -> int:
    """An eighth of the tile: 64 px at 512², beyond the receptive-field radius of the BS nets."""
    return min(working) // 8


def tile_starts(length: int, tile: int, margin: int) -> list[int]:
    """Tile origins along one axis such that the kept centres cover [0, length)."""
    if length <= tile:
        return [0]
    step = tile - 2 * margin
    if step < 1:
        raise ValueError(f"tile {tile} too small for margin {margin}")
    starts = list(range(0, length - tile, step))
    return [*starts, length - tile]


def run_tiled(
    run: RunTile, image: npt.NDArray[np.float32], working: tuple[int, int], margin: int
) -> npt.NDArray[np.float32]:
    """image (C, H, W) float32 → (C_out, H, W) float32 through `run` on (1, C, th, tw) tiles."""
    channels, height, width = image.shape
    tile_h, tile_w = working
    pad_h, pad_w = max(0, tile_h - height), max(0, tile_w - width)
    padded = np.pad(image, ((0, 0), (0, pad_h), (0, pad_w)), mode="edge") if pad_h or pad_w else image
    full_h, full_w = padded.shape[1:]
    out: npt.NDArray[np.float32] | None = None
    for y in tile_starts(full_h, tile_h, margin):
        for x in tile_starts(full_w, tile_w, margin):
            tile = np.ascontiguousarray(padded[None, :, y : y + tile_h, x : x + tile_w])
            result = run(tile)[0]
            if out is None:
                out = np.empty((result.shape[0], full_h, full_w), np.float32)
            top = 0 if y == 0 else margin
            left = 0 if x == 0 else margin
            bottom = tile_h if y + tile_h >= full_h else tile_h - margin
            right = tile_w if x + tile_w >= full_w else tile_w - margin
            out[:, y + top : y + bottom, x + left : x + right] = result[:, top:bottom, left:right]
    assert out is not None
    return out[:, :height, :width]


def run_resized(
    run: RunTile, image: npt.NDArray[np.float32], working: tuple[int, int], steps: Sequence[Step] = ()
) -> npt.NDArray[np.float32]:
    """image (C, H, W) float32 → (C_out, H, W) float32: resize to `working`, apply the card's
    intensity `steps` there (as `core.preprocess.prepare` does in training), run, resize back."""
    channels, height, width = image.shape
    tile_h, tile_w = working
    if (height, width) == (tile_h, tile_w):
        small = image
    else:
        shrink = "area" if height * width > tile_h * tile_w else "linear"
        small = np.stack([resize(c, working, shrink) for c in image])
    if steps:
        small = np.stack([apply_steps(c, steps) for c in small])
    result = run(np.ascontiguousarray(small[None], dtype=np.float32))[0]
    if (height, width) == (tile_h, tile_w):
        return result
    return np.stack([resize(c, (height, width), "linear") for c in result])


def run_rescaled_residual(
    run: RunTile, image: npt.NDArray[np.float32], working: tuple[int, int], margin: int
) -> npt.NDArray[np.float32]:
    """image (C, H, W) float32 → (C, H, W): image − upscaled(small − net(small)), where small is the
    image scaled so its long side is min(working) (an image already that small runs as it is)."""
    channels, height, width = image.shape
    scale = min(working) / max(height, width)
    if scale >= 1.0:
        return run_tiled(run, image, working, margin)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    small = np.stack([resize(c, size, "area") for c in image])
    removed = small - run_tiled(run, np.ascontiguousarray(small), working, margin)
    if removed.shape[0] != channels:
        raise ValueError(f"rescale_residual needs as many output channels as input ({channels}), got {removed.shape[0]}")
    upscaled = np.stack([resize(c, (height, width), "cubic") for c in removed])
    return (image - upscaled).astype(np.float32)


def transform_any_size(card: ModelCard, run: RunTile, image: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Apply an image-to-image model to an image of any size, per the card's resize policy.

    image: (H, W) or (C, H, W) float32 within the card's value range, C = card.input.channels.
    Returns (C_out, H, W) float32 on the same pixel grid.
    """
    policy = card.input.resize_policy
    if card.is_classifier or policy == "none":
        raise ModelError(card.name, f"a {card.task} model does not transform images")
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3 or image.shape[0] != card.input.channels or min(image.shape[1:]) < 1:
        raise ModelError(
            card.name, f"image shape {image.shape}; expected (H, W) or ({card.input.channels}, H, W)"
        )
    image = np.asarray(image, dtype=np.float32)
    working = (card.input.height, card.input.width)
    steps = card.input.steps
    if policy == "tile":
        # Tiles must share one intensity mapping, so the steps see the whole image first.
        if steps:
            image = np.stack([apply_steps(c, steps) for c in image])
        return run_tiled(run, image, working, default_margin(working))
    if policy == "rescale_residual":
        if steps:
            image = np.stack([apply_steps(c, steps) for c in image])
        return run_rescaled_residual(run, image, working, default_margin(working))
    return run_resized(run, image, working, steps)
