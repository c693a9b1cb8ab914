"""A map layer's scale folded into its colour table: equal values in equal colours across studies
under one fixed scale, the index untouched, clipping named, and the scale kept in the layer state."""

from __future__ import annotations

import json

import numpy as np

from cxrviewer.core.display.colormaps import colormap
from cxrviewer.core.display.compose import Normalisation, OverlayStyle, Threshold, index_map, layer
from cxrviewer.core.display.scale import clipping_note, colour_indices, scaled_layer
from cxrviewer.core.layers import (
    PROBABILITY_SCALE,
    SCALED_KINDS,
    LayerStack,
    drawn_layer,
    index_normalisation,
    summary_line,
)


def blocks(*values: float) -> np.ndarray:
    """(4, 4 · n) float32: 0 in the first row, then one 4-column block per value."""
    out = np.repeat(np.array(values, np.float32), 4)[None, :].repeat(4, 0)
    out[0] = 0.0
    return out


def test_per_image_scale_is_the_identity_and_probability_layers_keep_their_scale():
    indexed = index_map(np.linspace(-0.3, 2.7, 100, dtype=np.float32).reshape(10, 10))
    np.testing.assert_array_equal(colour_indices(indexed, Normalisation()), np.arange(256))
    assert SCALED_KINDS == ("bones", "saliency", "gradcam", "cam", "crm")
    stack = LayerStack()
    assert index_normalisation(stack["tb_lesions"]) == PROBABILITY_SCALE
    stack.update("gradcam", normalisation=Normalisation("fixed", 0.0, 5.0))
    assert index_normalisation(stack["gradcam"]) == Normalisation()  # indexed per image whatever the scale


def test_a_fixed_scale_gives_equal_values_equal_colours_across_studies():
    weak, strong = blocks(0.5, 1.0), blocks(1.0, 2.0)  # 1.0 in both studies, in the top and the middle
    maps = [index_map(weak), index_map(strong)]
    style = OverlayStyle("jet", Threshold("none", 0.0), 1.0)
    per_image = [layer(m, style) for m in maps]
    # Per image, 1.0 is the weak study's top colour but the strong one's middle.
    assert [int(maps[0].index[2, 4]), int(maps[1].index[2, 0])] == [255, 128]
    assert (per_image[0].lut[255] != per_image[1].lut[128]).any()
    scale = Normalisation.across([weak, strong])
    assert (scale.low, scale.high) == (0.0, 2.0)
    fixed = [scaled_layer(m, style, scale) for m in maps]
    jet = colormap("jet")
    colour_of_one = [fixed[0].lut[maps[0].index[2, 4]], fixed[1].lut[maps[1].index[2, 0]]]
    np.testing.assert_array_equal(colour_of_one, [jet[128], jet[128]])  # 1.0 of [0, 2]: 127.5 → 128
    np.testing.assert_array_equal(fixed[0].lut[maps[0].index[2, 0]], jet[64])  # 0.5 of [0, 2]: 63.75 → 64
    # Any value common to two maps of different ranges differs by at most one colour step.
    rng = np.random.default_rng(7)
    values = rng.uniform(0.0, 1.0, (8, 8)).astype(np.float32)
    a, b = index_map(values), index_map(np.concatenate([values, values * 3.0]))
    steps = colour_indices(a, scale)[a.index].astype(int) - colour_indices(b, scale)[b.index[:8]].astype(int)
    assert np.abs(steps).max() <= 1


def test_the_scale_changes_colours_only_never_the_index_alpha_or_contour():
    indexed = index_map(blocks(0.2, 0.6, 1.0))
    style = OverlayStyle("viridis", Threshold("fraction", 0.5), 0.6, contour=True)
    plain, fixed = layer(indexed, style), scaled_layer(indexed, style, Normalisation("fixed", 0.0, 4.0))
    assert fixed.index is indexed.index
    np.testing.assert_array_equal(fixed.lut[:, 3], plain.lut[:, 3])  # threshold and opacity unchanged
    np.testing.assert_array_equal(fixed.contour.mask, plain.contour.mask)
    assert (fixed.contour.top, fixed.contour.left) == (plain.contour.top, plain.contour.left)
    assert (fixed.lut[:, :3] != plain.lut[:, :3]).any()
    np.testing.assert_array_equal(fixed.lut[255, :3], colormap("viridis")[64, :3])  # 1.0 of [0, 4]: 63.75 → 64


def test_values_beyond_a_fixed_scale_are_clipped_and_said_to_be():
    indexed = index_map(blocks(0.5, 3.0))
    scale = Normalisation("fixed", 0.0, 2.0)
    colours = colour_indices(indexed, scale)
    assert colours[indexed.index[2, 4]] == 255 and colours[indexed.index_of(2.0)] == 255
    assert clipping_note(indexed, scale) == "clipped above 2 (this map reaches 3)"
    assert clipping_note(indexed, Normalisation("fixed", 0.1, 3.0)) == "clipped below 0.1"  # its zeros
    assert clipping_note(indexed, Normalisation("fixed", 0.0, 3.0)) == ""
    assert clipping_note(indexed, Normalisation()) == ""
    stack = LayerStack()
    stack.update("crm", normalisation=scale)
    line = summary_line(stack["crm"], indexed)
    assert line.endswith("fixed for every study: 0 to 2 · clipped above 2 (this map reaches 3)")


def test_a_fixed_scale_round_trips_through_the_saved_state():
    stack = LayerStack()
    stack.update("saliency", normalisation=Normalisation("fixed", -0.00125, 0.0375))
    restored = LayerStack.from_dict(json.loads(json.dumps(stack.to_dict())))
    assert restored["saliency"].normalisation == Normalisation("fixed", -0.00125, 0.0375)
    assert list(restored) == list(stack)
    indexed = index_map(blocks(0.01, 0.05))
    np.testing.assert_array_equal(drawn_layer(restored["saliency"], indexed).lut,
                                  drawn_layer(stack["saliency"], indexed).lut)
