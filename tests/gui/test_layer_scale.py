"""A map layer's scale in the layer panel, offscreen: "fixed across studies" starts from the maps shown
this session, keeps equal values in equal colours from study to study, stays when the study changes,
names what it clips, never re-indexes a map, and is what the exports draw."""

from __future__ import annotations

import numpy as np
import pytest
from layer_support import block_map, shown_harness
from PIL import Image as PilImage
from PySide6.QtCore import QSettings

from cxrviewer.core.display.colormaps import colormap
from cxrviewer.core.display.compose import Normalisation, compose
from cxrviewer.core.export import ExportContent, write_png
from cxrviewer.gui.layer_controller import LayerController
from cxrviewer.gui.layer_panel import LayerPanel

MODEL = "pneumonia-kermany"
ROWS = slice(30, 66)
# Interior pixels of the blocks: value 1.0 at (50, 70) in every study, the other block at (50, 120).
POINTS = ([50, 50], [70, 120])


@pytest.fixture
def harness(qtbot, tmp_path):
    return shown_harness(qtbot, tmp_path)


def show_with_map(harness, study: int, other: float) -> None:
    """Study `study` shown with a Grad-CAM of 1.0 in one block and `other` in the next."""
    harness.show_study(study_id=study)
    cam = block_map((ROWS, slice(50, 100), 1.0), (ROWS, slice(100, 150), other))
    harness.service.result_ready.emit(study, "maps", (MODEL, 1), {"gradcam": cam})


def colour_at(harness, point) -> np.ndarray:
    """The RGBA table entry the Grad-CAM item shows at image pixel `point`."""
    indexed = harness.controller.indexed["gradcam"]
    return harness.controller.overlays.items["gradcam"].lut[indexed.index[point]]


def test_fixed_scale_gives_equal_values_equal_colours_across_studies_and_stays(harness):
    show_with_map(harness, 0, 0.5)  # 1.0 is this study's maximum
    per_image_first = colour_at(harness, (50, 70))
    show_with_map(harness, 1, 2.0)  # 1.0 is half this study's maximum
    per_image_second = colour_at(harness, (50, 70))
    jet = colormap("jet")
    np.testing.assert_array_equal(per_image_first[:3], jet[255, :3])
    np.testing.assert_array_equal(per_image_second[:3], jet[128, :3])
    controls = harness.panel.controls["gradcam"]
    assert not controls.low.isEnabled() and controls.high.value() == 2.0  # per image: this map's own range
    item = harness.controller.overlays.items["gradcam"]
    index, shown = harness.controller.indexed["gradcam"].index, item.image
    controls.scale.setCurrentIndex(controls.scale.findData("fixed"))
    # The range covers both studies' maps, is shown, editable, and only the table changed.
    assert harness.panel.stack["gradcam"].normalisation == Normalisation("fixed", 0.0, 2.0)
    assert (controls.low.value(), controls.high.value()) == (0.0, 2.0) and controls.high.isEnabled()
    assert item.image is shown and harness.controller.indexed["gradcam"].index is index
    np.testing.assert_array_equal(colour_at(harness, (50, 70))[:3], jet[128, :3])
    assert controls.colour_bar.normalisation_label.text() == "fixed for every study: 0 to 2"
    fixed_composed = harness.controller.composed_view()
    # Back to the first study: the scale stays, and its 1.0 now shows the same colour as the second's.
    show_with_map(harness, 0, 0.5)
    assert harness.panel.stack["gradcam"].normalisation == Normalisation("fixed", 0.0, 2.0)
    assert controls.scale.currentData() == "fixed" and controls.high.value() == 2.0
    np.testing.assert_array_equal(colour_at(harness, (50, 70))[:3], jet[128, :3])
    composed = harness.controller.composed_view()
    np.testing.assert_array_equal(composed[50, 70], fixed_composed[50, 70])  # same base, same value
    assert (composed[50, 120] != fixed_composed[50, 120]).any()  # 0.5 and 2.0 still differ
    # A study beyond the range: clipped to the top colour, and the bar says so.
    show_with_map(harness, 2, 3.0)
    np.testing.assert_array_equal(colour_at(harness, (50, 120))[:3], jet[255, :3])
    label = controls.colour_bar.normalisation_label
    assert label.text() == "fixed for every study: 0 to 2 · clipped above 2 (this map reaches 3)"
    assert "clipped above 2" in label.toolTip() and controls.colour_bar.bar.high_text == "2+"
    assert harness.controller.visible_layer_summary()[1].endswith("clipped above 2 (this map reaches 3)")
    # Per image again: the first colour scheme returns.
    controls.scale.setCurrentIndex(controls.scale.findData("per_image"))
    np.testing.assert_array_equal(colour_at(harness, (50, 70))[:3], jet[85, :3])  # 1.0 of [0, 3]
    assert label.toolTip() == "" and not controls.high.isEnabled()


def test_the_range_is_edited_in_the_spin_boxes_and_refused_when_empty(harness):
    show_with_map(harness, 0, 0.5)
    controls = harness.panel.controls["gradcam"]
    controls.scale.setCurrentIndex(controls.scale.findData("fixed"))
    assert harness.panel.stack["gradcam"].normalisation == Normalisation("fixed", 0.0, 1.0)
    index = harness.controller.indexed["gradcam"].index
    controls.high.setValue(4.0)
    assert harness.panel.stack["gradcam"].normalisation == Normalisation("fixed", 0.0, 4.0)
    np.testing.assert_array_equal(colour_at(harness, (50, 70))[:3], colormap("jet")[64, :3])  # 63.75 → 64
    controls.low.setValue(5.0)  # above high: refused, said, and the boxes show the state again
    assert harness.panel.stack["gradcam"].normalisation == Normalisation("fixed", 0.0, 4.0)
    assert "high > low" in controls.status.text() and controls.low.value() == 0.0
    assert harness.controller.indexed["gradcam"].index is index
    controls.low.setValue(-1.0)
    assert harness.panel.stack["gradcam"].normalisation == Normalisation("fixed", -1.0, 4.0)
    assert not controls.status.isVisible()
    # Layers on a probability scale have no scale to choose.
    assert harness.panel.controls["tb_lesions"].scale.parent() is None


def test_exports_draw_the_fixed_scale_the_screen_shows(harness, tmp_path):
    show_with_map(harness, 0, 0.5)
    show_with_map(harness, 1, 2.0)
    controls = harness.panel.controls["gradcam"]
    controls.scale.setCurrentIndex(controls.scale.findData("fixed"))
    composed = harness.controller.composed_view()
    base = harness.canvas.displayed_image()
    np.testing.assert_array_equal(composed, compose(base, [harness.controller.overlays.drawn["gradcam"]]))
    rows, columns = [50, 50, 50, 20], [70, 120, 30, 70]
    assert (composed[rows[:2], columns[:2]] != base[rows[:2], columns[:2], None]).any(axis=1).all()
    np.testing.assert_allclose(harness.screen_rgb(rows, columns), composed[rows, columns], atol=1)
    summary = tuple(harness.controller.visible_layer_summary())
    path = write_png(tmp_path / "view.png", ExportContent(composed, summary))
    with PilImage.open(path) as written:
        np.testing.assert_array_equal(np.asarray(written), composed)
        assert "fixed for every study: 0 to 2" in written.text["Description"]


def test_a_fixed_scale_round_trips_through_the_readers_default(qtbot, harness, tmp_path):
    show_with_map(harness, 0, 0.5)
    controls = harness.panel.controls["gradcam"]
    controls.scale.setCurrentIndex(controls.scale.findData("fixed"))
    controls.high.setValue(2.5)
    harness.panel.save_default.click()
    panel = LayerPanel()
    qtbot.addWidget(panel)
    LayerController(harness.canvas, panel, QSettings(str(tmp_path / "layers.ini"), QSettings.Format.IniFormat))
    assert panel.stack["gradcam"].normalisation == Normalisation("fixed", 0.0, 2.5)
    restored = panel.controls["gradcam"]
    assert restored.scale.currentData() == "fixed" and restored.high.value() == 2.5 and restored.high.isEnabled()


def test_fixed_without_any_map_starts_at_zero_to_one_and_says_so(harness):
    harness.show_study()
    messages = []
    harness.controller.message.connect(messages.append)
    controls = harness.panel.controls["crm"]
    controls.scale.setCurrentIndex(controls.scale.findData("fixed"))
    assert harness.panel.stack["crm"].normalisation == Normalisation("fixed", 0.0, 1.0)
    assert messages == ["CRM: no map shown yet; fixed at 0 to 1 (edit the range)"]
