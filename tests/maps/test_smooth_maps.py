"""Feature-grid maps are drawn smooth (issue 20, item 7): bicubic between cell centres, each cell's
value at its centre, no step and no crease where the map is shown, and 0 outside the box the model
saw, reached by a fade rather than a cliff or stripes carried to the film's edge."""

from __future__ import annotations

import numpy as np
import pytest

from cxrviewer.core.imageops.resample import resample_affine
from cxrviewer.core.maps.geometry import to_image
from cxrviewer.core.preprocess import InputContract, prepare

STRIDE = 33  # model pixels per cell: a 7×7 grid on a 231² input, cell i centred on pixel 33i + 16
CELLS = 7
IMAGE = (300, 280)
CROP = (40, 30, 40 + CELLS * STRIDE, 30 + CELLS * STRIDE)  # the box the model saw, one image pixel per model pixel


def drawn(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(cells (7, 7) float32 in [0, 1), the map on the (300, 280) image grid)."""
    cells = np.random.default_rng(seed).random((CELLS, CELLS), dtype=np.float32)
    _x, geometry = prepare(np.zeros(IMAGE, np.float32), InputContract(CELLS * STRIDE, CELLS * STRIDE), crop_box=CROP)
    return cells, to_image(cells, geometry)


def bilinear(seed: int) -> np.ndarray:
    """The old drawing: bilinear between centres, edge cells carried to the box's border."""
    cells = np.random.default_rng(seed).random((CELLS, CELLS), dtype=np.float32)
    _x, geometry = prepare(np.zeros(IMAGE, np.float32), InputContract(CELLS * STRIDE, CELLS * STRIDE), crop_box=CROP)
    offset = (STRIDE - 1) / 2
    matrix = [[1 / STRIDE, 0, -offset / STRIDE], [0, 1 / STRIDE, -offset / STRIDE]]
    return geometry.to_image(resample_affine(cells, matrix, (CELLS * STRIDE,) * 2, "linear"))


def largest_step(image: np.ndarray) -> float:
    return float(max(np.abs(np.diff(image, axis=0)).max(), np.abs(np.diff(image, axis=1)).max()))


def largest_crease(image: np.ndarray, level: float) -> float:
    """The largest second difference along rows or columns among runs of three pixels all at or above
    `level` (what a display threshold shows): a crease is a jump in slope."""
    worst = 0.0
    for axis in (0, 1):
        values = np.moveaxis(image, axis, 0)
        second = np.abs(values[2:] - 2 * values[1:-1] + values[:-2])
        shown = (values[2:] >= level) & (values[1:-1] >= level) & (values[:-2] >= level)
        worst = max(worst, float(second[shown].max()))
    return worst


@pytest.mark.parametrize("seed", range(4))
def test_each_cells_value_is_drawn_at_its_centre(seed):
    cells, image_map = drawn(seed)
    centres = np.arange(CELLS) * STRIDE + (STRIDE - 1) // 2
    at_centres = image_map[np.ix_(CROP[0] + centres, CROP[1] + centres)]
    np.testing.assert_allclose(at_centres, cells, atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_no_step_edges_anywhere_not_even_at_the_box_the_model_saw(seed):
    cells, image_map = drawn(seed)
    # A cubic's slope is at most ~1.5 cell differences per cell, the fade's 1.5 values per half cell.
    assert largest_step(image_map) <= 4.0 / STRIDE
    assert largest_step(bilinear(seed)) > 0.5  # the old map dropped from an edge cell's value to 0 at the box


@pytest.mark.parametrize("seed", range(4))
def test_no_creases_where_the_map_is_shown(seed):
    """Bilinear's slope jumps at every cell centre (the diamonds a reader saw); the cubic's does not.
    Measured where the default display threshold (20 % of the maximum) draws it."""
    _cells, image_map = drawn(seed)
    inner = (slice(CROP[0] + STRIDE // 2, CROP[2] - STRIDE // 2), slice(CROP[1] + STRIDE // 2, CROP[3] - STRIDE // 2))
    assert largest_crease(image_map[inner], 0.2 * image_map.max()) <= 8.0 / STRIDE**2
    old = bilinear(seed)
    assert largest_crease(old[inner], 0.2 * old.max()) > 30.0 / STRIDE**2


@pytest.mark.parametrize("seed", range(4))
def test_outside_the_box_the_model_saw_the_map_is_zero_and_it_fades_to_zero_at_its_edge(seed):
    cells, image_map = drawn(seed)
    y0, x0, y1, x1 = CROP
    outside = np.ones(IMAGE, bool)
    outside[y0:y1, x0:x1] = False
    assert (image_map[outside] == 0).all()
    rim = np.concatenate([image_map[y0, x0:x1], image_map[y1 - 1, x0:x1], image_map[y0:y1, x0], image_map[y0:y1, x1 - 1]])
    assert rim.max() < 0.01 * cells.max()  # no stripes of the edge cells' values along the box's edge
    assert image_map.min() >= 0  # a rectified (non-negative) grid stays non-negative


def test_a_letterboxed_map_fades_to_zero_at_the_content_not_the_pad():
    """Letterbox: the model saw pad above and below the film; the map fades out at the film's edge."""
    cells = np.ones((4, 4), np.float32)
    _x, geometry = prepare(np.zeros((100, 200), np.float32), InputContract(128, 128, resize="letterbox"))
    image_map = to_image(cells, geometry)
    assert image_map.shape == (100, 200)
    assert image_map[0].max() < 0.05 and image_map[-1].max() < 0.05 and image_map[:, 0].max() < 0.05
    assert image_map[50, 100] == pytest.approx(1.0, abs=1e-6)
    assert largest_step(image_map) < 0.1

