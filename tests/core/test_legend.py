"""Layer legends for exports (issue 20, item 10): what a drawn layer's colours and display threshold
mean, in the PDF report and on the PNG export's legend strip."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
import pytest
from PIL import Image as PilImage

from cxrviewer.core.display.compose import Normalisation, Threshold, index_map, threshold_index
from cxrviewer.core.export import ExportContent, write_png
from cxrviewer.core.export.legend_strip import bar_pixels, legend_strip, text_px
from cxrviewer.core.layers import ClassSelector, default_layer
from cxrviewer.core.legend import LayerLegend, layer_legend

RAMP = np.tile(np.linspace(0.0, 1.0, 200, dtype=np.float32), (40, 1))  # (40, 200), 0 to 1 left to right


def lesion_state(threshold: float = 0.638):
    state = default_layer("tb_lesions")
    return replace(state, style=replace(state.style, threshold=Threshold("value", threshold)))


def test_a_probability_layer_says_its_display_threshold_as_a_percentage():
    state = lesion_state()
    indexed = index_map(RAMP, state.normalisation)
    legend = layer_legend(state, indexed, "tb-lesions, image score 93.0 %")
    assert (legend.low, legend.high, legend.scale) == ("0 %", "100 %", "probability per pixel")
    assert legend.threshold == "display threshold: only shown above 63.8 %"
    assert legend.first_shown == pytest.approx(threshold_index(indexed, state.style.threshold) / 255)
    assert legend.title == "TB lesions: tb-lesions, image score 93.0 %"
    assert legend.contour_rgb == (255, 255, 255) and not legend.outline_only
    np.testing.assert_array_equal(legend.colours()[-1], [255, 217, 217])  # the reds map's lightest entry


def test_an_explanation_map_is_relative_to_its_own_maximum_not_a_probability():
    state = replace(default_layer("gradcam"), selector=ClassSelector("pneumonia-kermany", 1, "pneumonia"))
    legend = layer_legend(state, index_map(RAMP * 0.2), "pneumonia-kermany / pneumonia, 97.3 %")
    assert (legend.low, legend.high) == ("0", "this map's maximum")
    assert "not a probability" in legend.scale
    assert legend.threshold == "display threshold: only shown above 20 % of this map's maximum (0.04)"
    assert legend.first_shown == pytest.approx(0.2, abs=1 / 255)
    fixed = replace(state, normalisation=Normalisation("fixed", 0.0, 0.5))
    legend = layer_legend(fixed, index_map(RAMP * 0.2))
    assert (legend.low, legend.high) == ("0", "0.5") and legend.first_shown == pytest.approx(0.08, abs=1 / 255)


def test_an_outline_layer_and_a_layer_without_its_map_yet():
    outline = layer_legend(default_layer("lung_outline"), None)
    assert outline.outline_only and outline.threshold == "display threshold: outlined where it reaches 50.0 %"
    assert outline.first_shown == 0.0
    with pytest.raises(ValueError, match="first_shown"):
        LayerLegend("x", "jet", "0", "1", "", first_shown=1.5)


def test_the_png_export_carries_a_legend_strip_below_the_untouched_view(tmp_path):
    composed = np.full((300, 480, 3), 90, np.uint8)
    legend = layer_legend(lesion_state(), index_map(RAMP, default_layer("tb_lesions").normalisation),
                          "tb-lesions, image score 93.0 %")
    content = ExportContent(composed, ("TB lesions",), legends=(legend,),
                            created=datetime(2026, 11, 22, tzinfo=timezone.utc))
    with PilImage.open(write_png(tmp_path / "view.png", content)) as picture:
        pixels, text = np.asarray(picture), dict(picture.text)
    strip = pixels[300:]
    assert pixels.shape[1] == 480 and strip.shape[0] >= 4 * text_px(480)
    np.testing.assert_array_equal(pixels[:300], composed)  # the view itself is not drawn on
    np.testing.assert_array_equal(strip, legend_strip(480, (legend,)))
    # The bar: the colour map drawn, faded left of the display threshold; text in light grey on dark.
    pad = text_px(480) // 2
    bar = bar_pixels(legend, 480 - 2 * pad, 1)[0]
    cut = round(legend.first_shown * bar.shape[0])
    away = np.abs(np.arange(bar.shape[0]) - cut) > 3  # the threshold's tick is drawn across the bar
    rows = [r for r in range(strip.shape[0]) if np.array_equal(strip[r, pad:480 - pad][away], bar[away])]
    assert len(rows) == text_px(480)  # the bar, one text size tall
    assert bar[:cut].astype(int).sum(axis=1).max() < bar[cut:].astype(int).sum(axis=1).min()  # faded left of it
    assert (strip > 200).all(axis=2).sum() > 100  # text pixels
    assert text["Legend"].startswith("rows 300 and below: TB lesions: tb-lesions, image score 93.0 % (reds, 0 % to ")
    assert "display threshold: only shown above 63.8 %" in text["Legend"]
    # Without a layer drawn there is no strip: the PNG is the view.
    assert legend_strip(480, ()).shape == (0, 480, 3)


def test_a_narrow_image_still_gets_its_legend_in_smaller_type():
    legend = layer_legend(lesion_state(), None, "a very long description of what the layer explains " * 3)
    strip = legend_strip(96, (legend,))
    assert strip.shape[1] == 96 and strip.shape[0] > 30
