"""Layer models without Qt: defaults, validation, change events, persistence, and drawing through
the one compositing rule."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cxrviewer.core.display.compose import (
    Normalisation,
    Threshold,
    compose,
    index_map,
    threshold_index,
)
from cxrviewer.core.errors import ConfigError
from cxrviewer.core.layers import (
    KINDS,
    MAP_KINDS,
    ClassSelector,
    LayerStack,
    default_layer,
    overlay_layers,
    summary_line,
)


def test_defaults_follow_the_papers_and_the_lesion_card():
    stack = LayerStack()
    assert [s.kind for s in stack] == list(KINDS)
    assert stack["crm"].style.threshold == Threshold("fraction", 0.2)  # Kim 2019: CRM above 20 % of max
    lungs = stack["lung_outline"].style
    assert (lungs.opacity, lungs.contour, lungs.threshold) == (0.0, True, Threshold("value", 0.5))
    assert stack["tb_lesions"].normalisation == Normalisation("fixed", 0.0, 1.0)
    stack.adopt_lesion_threshold(0.31)
    assert stack["tb_lesions"].style.threshold == Threshold("value", 0.31)
    stack.update("tb_lesions", threshold=Threshold("value", 0.7))
    stack.adopt_lesion_threshold(0.31)  # the reader's own choice is kept
    assert stack["tb_lesions"].style.threshold == Threshold("value", 0.7)


def test_changes_are_validated_and_reported_by_what_they_touch():
    stack = LayerStack()
    events = []
    unsubscribe = stack.subscribe(lambda kind, what: events.append((kind, what)))
    stack.update("crm", opacity=0.8)
    stack.update("crm", visible=True)
    stack.update("crm", normalisation=Normalisation("fixed", 0.0, 2.0))  # a map's scale: its table
    stack.update("tb_lesions", normalisation=Normalisation("fixed", 0.0, 0.5))  # a probability layer's index
    stack.select_class(ClassSelector("pneumonia-kermany", 1, "pneumonia"))
    stack.base = "soft_tissue"
    stack.update("crm", opacity=0.8)  # no change, no event
    assert events == [("crm", "lut"), ("crm", "visible"), ("crm", "lut"), ("tb_lesions", "index")] + [
        (k, "class") for k in MAP_KINDS] + [("", "base")]
    with pytest.raises(ValueError, match="opacity"):
        stack.update("crm", opacity=1.5)
    with pytest.raises(ValueError, match="no setting"):
        stack.update("crm", brightness=1)
    with pytest.raises(ValueError, match="explains no class"):
        stack.update("bones", selector=ClassSelector("m", 0))
    with pytest.raises(ValueError, match="base image"):
        stack.base = "bones"
    assert stack["crm"].style.opacity == 0.8 and stack.base == "soft_tissue"
    unsubscribe()
    stack.update("crm", opacity=0.1)
    assert len(events) == 9


def test_state_round_trips_through_json_and_rejects_bad_state():
    stack = LayerStack()
    stack.update("saliency", visible=True, colormap="viridis", threshold=Threshold("percentile", 95), contour=True)
    stack.select_class(ClassSelector("opacity-rsna", 1, "opacity"))
    stack.base = "soft_tissue"
    data = json.loads(json.dumps(stack.to_dict()))
    again = LayerStack.from_dict(data)
    assert list(again) == list(stack) and again.base == "soft_tissue"
    assert again.selector == ClassSelector("opacity-rsna", 1, "opacity")
    data["layers"][1]["opacity"] = 3.0
    with pytest.raises(ConfigError, match="saliency"):
        LayerStack.from_dict(data)
    with pytest.raises(ConfigError, match="version"):
        LayerStack.from_dict({"layers": []})
    events = []
    fresh = LayerStack()
    fresh.subscribe(lambda kind, what: events.append(what))
    fresh.restore(stack.to_dict())
    assert list(fresh) == list(stack) and events == ["all"]


def test_value_threshold_cuts_a_probability_map_at_that_probability():
    probability = np.linspace(0, 1, 256, dtype=np.float32).reshape(16, 16)
    indexed = index_map(probability, Normalisation("fixed", 0.0, 1.0))
    first = threshold_index(indexed, Threshold("value", 0.5))
    assert first == 128  # round(0.5 * 255) = 128 (half to even)
    shown = indexed.index >= first
    assert shown.sum() == 128 and probability[shown].min() >= 0.5 - 1 / 510


def test_overlay_layers_draw_visible_layers_in_order_through_compose():
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (32, 40), dtype=np.uint8)
    cam = rng.random((32, 40), dtype=np.float32)
    lesions = np.zeros((32, 40), np.float32)
    lesions[8:20, 10:30] = 0.9
    stack = LayerStack()  # Grad-CAM and TB lesions visible by default
    maps = {"gradcam": index_map(cam), "tb_lesions": index_map(lesions, stack["tb_lesions"].normalisation),
            "crm": index_map(cam)}
    drawn = overlay_layers(stack, maps)
    assert len(drawn) == 2
    assert drawn[0].index is maps["gradcam"].index and drawn[1].index is maps["tb_lesions"].index
    out = compose(base, drawn)
    rim = drawn[1].contour.full(base.shape)
    assert rim.sum() == 2 * (12 + 20) - 4  # the lesion box's one-pixel inner rim
    assert (out[rim] == 255).all()
    inside = np.zeros_like(rim)
    inside[9:19, 11:29] = True
    lut = drawn[1].lut
    colour, alpha = lut[maps["tb_lesions"].index_of(0.9), :3].astype(int), int(lut[229, 3])
    under = compose(base, drawn[:1])[inside].astype(int)
    expected = (under * (255 - alpha) + colour * alpha + 127) // 255
    np.testing.assert_array_equal(out[inside], expected)


def test_summary_names_class_threshold_opacity_colour_map_and_scale():
    stack = LayerStack()
    stack.select_class(ClassSelector("pneumonia-kermany", 1, "pneumonia"))
    cam = np.linspace(0, 2, 100, dtype=np.float32).reshape(10, 10)
    line = summary_line(stack["crm"], index_map(cam))
    assert line == ("CRM · pneumonia-kermany / pneumonia · threshold ≥ 20 % of max (0.4) · opacity 40 % · "
                    "colour map jet · per image: 0 to this map's maximum")
    assert summary_line(default_layer("lung_outline")) == (
        "Lung outline · threshold ≥ 0.5 · contour only · fixed for every study: 0 to 1")
