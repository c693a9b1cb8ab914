"""Overlay display: colour tables, thresholds, normalisation, and compose() against a pyqtgraph LUT
application pixel for pixel."""

from __future__ import annotations

import numpy as np
import pytest

from cxrviewer.core.display.colormaps import COLORMAPS, colormap
from cxrviewer.core.display.compose import (
    CRM_THRESHOLD,
    Layer,
    Normalisation,
    OverlayStyle,
    Threshold,
    apply_lut,
    blend,
    build_lut,
    compose,
    contour_mask,
    index_map,
    layer,
    threshold_index,
)


def ramp(h: int = 64, w: int = 256) -> np.ndarray:
    return np.tile(np.linspace(0, 2.0, w, dtype=np.float32), (h, 1))


@pytest.mark.parametrize("name", COLORMAPS)
def test_colormaps_are_256_rgba_tables(name):
    table = colormap(name)
    assert table.shape == (256, 4) and table.dtype == np.uint8
    assert (table[:, 3] == 255).all()
    assert len({tuple(row) for row in table[:, :3]}) > 200  # a real ramp, not a few colours


def test_jet_runs_blue_to_red_and_viridis_purple_to_yellow():
    jet, viridis = colormap("jet"), colormap("viridis")
    assert jet[0, 2] > 100 and jet[0, 0] < 10 and jet[255, 0] > 100 and jet[255, 2] < 10
    assert tuple(viridis[0, :3]) == pytest.approx((68, 1, 84), abs=2)
    assert tuple(viridis[255, :3]) == pytest.approx((253, 231, 37), abs=2)


def test_reds_keeps_one_hue():
    table = colormap("reds").astype(int)
    assert (table[:, 0] >= table[:, 1]).all() and (table[:, 1] == table[:, 2]).all()
    assert (np.diff(table[:, :3].sum(axis=1)) >= 0).all()  # lightness never falls


def test_fraction_threshold_hides_below_a_fifth_of_the_maximum():
    values = ramp()
    indexed = index_map(values)
    first = threshold_index(indexed, CRM_THRESHOLD)
    lut = build_lut(OverlayStyle(threshold=CRM_THRESHOLD, opacity=0.6), first)
    alpha = apply_lut(indexed.index, lut)[..., 3]
    assert (alpha[values < 0.2 * 2.0 - 2.0 / 255] == 0).all()
    assert (alpha[values > 0.2 * 2.0 + 2.0 / 255] == 153).all()


def test_percentile_threshold_shows_the_top_share():
    values = np.random.default_rng(0).random((200, 200), dtype=np.float32)
    indexed = index_map(values)
    first = threshold_index(indexed, Threshold("percentile", 90))
    shown = (indexed.index >= first).mean()
    assert 0.09 < shown < 0.11


def test_threshold_none_and_validation():
    indexed = index_map(ramp())
    assert threshold_index(indexed, Threshold("none", 0)) == 0
    with pytest.raises(ValueError):
        Threshold("fraction", 1.5)
    with pytest.raises(ValueError):
        OverlayStyle(opacity=1.2)
    with pytest.raises(ValueError):
        Normalisation("fixed", 1.0, 1.0)


def test_fixed_normalisation_makes_colours_comparable_across_studies():
    weak, strong = ramp() * 0.5, ramp()
    per_image = [index_map(m).index.max() for m in (weak, strong)]
    assert per_image == [255, 255]  # each map fills the colour range on its own
    scale = Normalisation.across([weak, strong])
    assert (scale.low, scale.high) == (0.0, 2.0)
    assert [index_map(m, scale).index.max() for m in (weak, strong)] == [128, 255]
    assert "fixed" in scale.describe() and "per image" in Normalisation().describe()


def test_compose_equals_pyqtgraph_lut_application_pixel_for_pixel():
    fn = pytest.importorskip("pyqtgraph.functions")
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (96, 80), dtype=np.uint8)
    maps = [rng.random((96, 80), dtype=np.float32), ramp(96, 80)]
    styles = [OverlayStyle("jet", Threshold("fraction", 0.3), 0.7), OverlayStyle("viridis", Threshold("percentile", 50), 0.4)]
    layers = [layer(index_map(m), s) for m, s in zip(maps, styles, strict=True)]

    expected = np.repeat(base[..., None], 3, axis=2)
    for item in layers:
        # pyqtgraph's ImageItem path: uint8 data through a 256-entry RGBA lookup table, no levels.
        bgra, has_alpha = fn.makeARGB(item.index, lut=item.lut, levels=None, useRGBA=False)
        assert has_alpha
        rgba = bgra[..., [2, 1, 0, 3]]
        assert np.array_equal(rgba, apply_lut(item.index, item.lut))
        alpha = rgba[..., 3:4].astype(np.int64)
        expected = np.rint((expected * (255 - alpha) + rgba[..., :3] * alpha) / 255.0).astype(np.uint8)
    assert np.array_equal(compose(base, layers), expected)


def test_blend_extremes_and_contour():
    base = np.full((4, 4, 3), 100, np.uint8)
    opaque = np.zeros((4, 4, 4), np.uint8)
    opaque[..., 0], opaque[..., 3] = 250, 255
    assert (blend(base, opaque)[..., 0] == 250).all()
    opaque[..., 3] = 0
    assert (blend(base, opaque) == 100).all()

    values = np.zeros((20, 20), np.float32)
    values[5:15, 5:15] = 1.0
    item = layer(index_map(values), OverlayStyle(contour=True, contour_rgb=(0, 255, 0)))
    assert item.contour is not None and item.contour.mask.sum() == 36  # the 10×10 square's rim
    out = compose(np.zeros((20, 20), np.uint8), [item])
    assert tuple(out[5, 5]) == (0, 255, 0) and tuple(out[0, 0]) == (0, 0, 0)


def test_compose_refuses_mismatched_layers():
    item = Layer(np.zeros((3, 3), np.uint8), build_lut(OverlayStyle(), 0))
    with pytest.raises(ValueError, match="does not match"):
        compose(np.zeros((4, 4), np.uint8), [item])


def full_image_rim(index: np.ndarray, first_shown: int) -> np.ndarray:
    """The rim by its definition on the whole image: shown pixels with a shown-nothing 3x3 neighbour
    inside the image (beyond the image does not count)."""
    shown = np.pad(index >= first_shown, 1, mode="edge")
    neighbours_all_shown = np.ones(index.shape, bool)
    for dy in range(3):
        for dx in range(3):
            neighbours_all_shown &= shown[dy : dy + index.shape[0], dx : dx + index.shape[1]]
    return (index >= first_shown) & ~neighbours_all_shown


@pytest.mark.parametrize("seed", range(4))
def test_contour_within_the_shown_box_equals_the_whole_image_rim(seed):
    rng = np.random.default_rng(seed)
    values = np.zeros((90, 120), np.float32)
    for _ in range(3):  # blobs, one of them often cut by the image edge
        cy, cx, r = rng.integers(0, 90), rng.integers(0, 120), rng.integers(4, 25)
        y, x = np.mgrid[0:90, 0:120]
        values = np.maximum(values, np.clip(1 - np.hypot(y - cy, x - cx) / r, 0, 1))
    indexed = index_map(values)
    for first in (0, 1, 60, 128, 250, 255):
        rim = contour_mask(indexed, first).full(indexed.index.shape)
        np.testing.assert_array_equal(rim, full_image_rim(indexed.index, first))
    assert contour_mask(indexed, 128).mask.any()



def test_a_wider_rim_is_an_inner_band_of_that_width_and_the_image_edge_is_never_rim():
    values = np.zeros((40, 50), np.float32)
    values[10:30, 12:40] = 1.0
    values[0:8, 0:6] = 1.0  # touches the image's top and left edges
    indexed = index_map(values)
    first = threshold_index(indexed, Threshold("value", 0.5))
    one, three = (contour_mask(indexed, first, w).full(values.shape) for w in (1, 3))
    assert one.sum() == 2 * (20 + 28) - 4 + (8 + 6 - 1)  # the block's ring, the corner block's two inner sides
    expected = np.zeros_like(three)
    expected[10:30, 12:40] = True
    expected[13:27, 15:37] = False  # three pixels in from each side
    expected[0:8, 3:6] = True
    expected[5:8, 0:6] = True
    np.testing.assert_array_equal(three, expected)
    assert (three >= one).all()
    with pytest.raises(ValueError, match="at least one pixel"):
        contour_mask(indexed, first, 0)
