"""Maps land over the evidence that produced them: through stretch, letterbox and crop, and with the
feature cells placed at their receptive-field centres."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cxrviewer.core.maps import cam, crm, gradcam
from cxrviewer.core.maps import head as nphead
from cxrviewer.core.maps.geometry import FeatureGrid, to_image
from cxrviewer.core.preprocess import InputContract, prepare

BLOCK = 16
# A hand-made classifier: features are the mean of each 16×16 block of the input; the head is
# GAP → linear with class 0 = "bright". Its evidence for class 0 is exactly where the input is bright.
HEAD = nphead.Head((nphead.MeanHW(), nphead.Linear(np.array([[1.0], [-1.0]], np.float32), np.zeros(2, np.float32))))


def block_features(x: np.ndarray) -> np.ndarray:
    c, h, w = x.shape
    return x.reshape(c, h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean(axis=(2, 4)).astype(np.float32)


def radiograph_with_square(shape, square) -> np.ndarray:
    y0, x0, y1, x1 = square
    pixels = np.full(shape, 0.1, np.float32)
    pixels[y0:y1, x0:x1] = 1.0
    return pixels


@pytest.mark.parametrize(
    ("shape", "square", "resize", "crop"),
    [
        ((400, 300), (250, 60, 300, 110), "stretch", None),
        ((300, 500), (40, 380, 90, 430), "letterbox", None),
        ((512, 512), (200, 300, 260, 360), "center_crop", None),
        ((600, 480), (300, 120, 350, 170), "stretch", (100, 40, 560, 440)),
    ],
)
def test_map_maximum_lies_over_the_evidence(shape, square, resize, crop):
    pixels = radiograph_with_square(shape, square)
    contract = InputContract(height=128, width=128, channels=1, resize=resize)
    x, geometry = prepare(pixels, contract, crop_box=crop)
    features = block_features(x)
    grid = FeatureGrid.tiling(geometry.model_shape, features.shape[1:])  # exact for block means
    y0, x0, y1, x1 = square
    for model_map in (cam(features, HEAD, 0), gradcam(features, HEAD, 0), crm(features, HEAD), x[0]):
        image_map = to_image(model_map, geometry, grid)
        assert image_map.shape == shape
        row, col = np.unravel_index(np.argmax(image_map), shape)
        assert y0 <= row < y1 and x0 <= col < x1, (model_map.shape, row, col)


def _receptive_centre(layers: list[nn.Module], size: int, cell: int) -> float:
    """Centre of the input support of output cell (cell, cell) of a chain with all-positive weights."""
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    y = x
    for layer in layers:
        y = layer(y)
    y[0, 0, cell, cell].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(dim=1)).flatten()
    return (rows.min().item() + rows.max().item()) / 2


def _ones_conv(k: int, s: int, p: int) -> nn.Conv2d:
    conv = nn.Conv2d(1, 1, k, stride=s, padding=p, bias=False)
    nn.init.ones_(conv.weight)
    return conv


@pytest.mark.parametrize(
    "chain",
    [
        [(3, 2, 1), (3, 2, 1), (3, 2, 1), (3, 1, 1), (3, 2, 1)],  # tb-net-like: "same" padding
        [(7, 2, 0), (3, 2, 0), (3, 1, 0), (3, 2, 0), (3, 1, 0), (3, 1, 0), (3, 1, 0)],  # sequential CNN
    ],
)
def test_feature_grid_from_chain_is_the_receptive_field_centre(chain):
    grid = FeatureGrid.from_chain(chain)
    # Average pools have the same geometry as max pools and a dense gradient.
    layers = [_ones_conv(k, s, p) if i % 2 == 0 else nn.AvgPool2d(k, s, p) for i, (k, s, p) in enumerate(chain)]
    cell = 4
    assert grid.offset[0] + grid.stride[0] * cell == pytest.approx(_receptive_centre(layers, 227, cell))


def test_sequential_cnn_grid_is_not_a_tiling():
    seq = FeatureGrid.from_chain([(7, 2, 0), (3, 2, 0), (3, 1, 0), (3, 2, 0), (3, 1, 0), (3, 1, 0), (3, 1, 0)])
    assert (seq.stride[0], seq.offset[0]) == (8.0, 37.0)  # cell i sits at input pixel 8i + 37
    tiling = FeatureGrid.tiling((227, 227), (20, 20))
    assert abs(tiling.offset[0] - seq.offset[0]) > 30


def test_tiling_grid_between_centres_equals_cv2_cubic_resize():
    """Between the outermost cell centres a tiling grid is cv2.resize INTER_CUBIC (was INTER_LINEAR,
    the blocky drawing of issue 20), bar the cubic's dip below the least cell, which is clipped."""
    import cv2

    grid_map = np.random.default_rng(0).random((8, 8), dtype=np.float32)
    ours = FeatureGrid.tiling((64, 64), (8, 8)).to_model(grid_map, (64, 64))
    reference = np.maximum(cv2.resize(grid_map, (64, 64), interpolation=cv2.INTER_CUBIC), grid_map.min())
    inner = slice(4, 60)  # from the first cell's centre (3.5) to the last's (59.5)
    assert np.allclose(ours[inner, inner], reference[inner, inner], atol=1e-5)
