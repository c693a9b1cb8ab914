"""Tiling and resizing for image-to-image models: any input size, same grid out."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cxrviewer.core.preprocess import InputContract, Step, apply_steps
from cxrviewer.runtime.tiling import run_rescaled_residual, run_resized, run_tiled, tile_starts


def box_filter(tile: np.ndarray) -> np.ndarray:
    """A local operator (radius 2) standing in for a fully convolutional net: (1, 1, h, w) → same."""
    return cv2.blur(tile[0, 0], (5, 5), borderType=cv2.BORDER_REFLECT)[None, None]


def test_tile_starts_cover_the_axis_with_margins():
    assert tile_starts(100, 128, 16) == [0]
    assert tile_starts(300, 128, 16) == [0, 96, 172]
    assert tile_starts(128, 128, 16) == [0]


@pytest.mark.parametrize("shape", [(300, 260), (128, 400), (129, 129)])
def test_tiled_equals_whole_image_for_a_local_operator(shape):
    rng = np.random.default_rng(1)
    image = rng.random((1, *shape), dtype=np.float32)
    calls = []

    def run(tile):
        assert tile.shape == (1, 1, 128, 128)  # only ever the working size
        calls.append(1)
        return box_filter(tile)

    tiled = run_tiled(run, image, (128, 128), margin=16)
    whole = box_filter(image[None])[0]
    assert tiled.shape == (1, *shape)
    np.testing.assert_allclose(tiled, whole, atol=1e-6)
    assert len(calls) > 1


def test_small_image_is_padded_then_cropped():
    image = np.linspace(0, 1, 50 * 70, dtype=np.float32).reshape(1, 50, 70)
    out = run_tiled(lambda tile: tile * 2, image, (128, 128), margin=16)
    np.testing.assert_array_equal(out, image * 2)


def test_resized_returns_the_input_grid_and_keeps_channels():
    image = np.zeros((1, 300, 200), np.float32)
    image[:, 100:200, 50:150] = 1.0

    def two_channels(tile):
        assert tile.shape == (1, 1, 64, 64)
        return np.concatenate([tile, 1 - tile], axis=1)

    out = run_resized(two_channels, image, (64, 64))
    assert out.shape == (2, 300, 200)
    assert out[0, 150, 100] == pytest.approx(1.0) and out[0, 10, 10] == pytest.approx(0.0)
    np.testing.assert_allclose(out[0] + out[1], 1.0, atol=1e-6)


def test_resized_applies_the_card_steps_at_the_working_size_as_training_did():
    """A segmentation card with CLAHE: the net must see resize → CLAHE (core.preprocess.prepare's
    order in training), not the raw image; a model fed the raw image found no lungs at all."""
    rng = np.random.default_rng(3)
    image = (rng.random((1, 300, 200)) * 0.3 + 0.2).astype(np.float32)
    steps = InputContract(64, 64, 1, steps=(Step("clahe"),)).steps
    seen = []
    run_resized(lambda tile: seen.append(tile.copy()) or tile, image, (64, 64), steps)
    small = cv2.resize(image[0], (64, 64), interpolation=cv2.INTER_AREA)
    np.testing.assert_allclose(seen[0][0, 0], apply_steps(small, steps), atol=1e-6)
    assert seen[0].std() > 2 * small.std()  # CLAHE really stretched the contrast


def test_rescale_residual_keeps_full_resolution_detail_and_applies_the_removed_part():
    """A 'net' that removes a constant 0.1 at the working scale: the full image loses 0.1 everywhere
    yet keeps its fine one-pixel checkerboard, which the small image cannot hold."""
    fine = (np.indices((1024, 768)).sum(axis=0) % 2).astype(np.float32) * 0.2 + 0.4
    seen = []

    def dim(tile):
        seen.append(tile.shape)
        return tile - 0.1

    out = run_rescaled_residual(dim, fine[None], (256, 256), margin=32)
    assert out.shape == (1, 1024, 768)
    assert all(shape == (1, 1, 256, 256) for shape in seen) and len(seen) == 1  # 256×192 padded to one tile
    np.testing.assert_allclose(out[0], fine - 0.1, atol=1e-5)


def test_rescale_residual_runs_a_small_image_as_it_is():
    image = np.random.default_rng(0).random((1, 200, 150), dtype=np.float32)
    out = run_rescaled_residual(lambda tile: tile * 0.5, image, (256, 256), margin=32)
    np.testing.assert_allclose(out, image * 0.5, atol=1e-6)
