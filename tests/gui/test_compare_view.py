"""The side-by-side compare window, offscreen: each pane shows its base with the reader's layers,
turned as the main canvas turns the image, equal to `compose` of the same layers; the "layers" box
hides them; a threshold change reaches the panes through the tables alone."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from layer_support import block_map, shown_harness
from PySide6.QtCore import QPointF
from screen_support import inner_pixels

from cxrviewer.core.display.compose import Threshold, compose
from cxrviewer.core.layers import KINDS

MODEL = "pneumonia-kermany"


@pytest.fixture
def compare(qtbot, tmp_path):
    """The harness with a study, its soft tissue, Grad-CAM and TB lesions (contour on) shown, and
    the compare window open."""
    harness = shown_harness(qtbot, tmp_path)
    loaded = harness.show_study()
    pixels = loaded.image.pixels
    service = harness.service
    service.result_ready.emit(0, "soft_tissue", "bones-model", (pixels * 0.5 + 0.2, pixels * 0.3))
    rows = slice(30, 66)
    cam = block_map((rows, slice(10, 50), 0.2), (rows, slice(50, 100), 0.6), (rows, slice(100, 150), 1.0))
    service.result_ready.emit(0, "maps", (MODEL, 1), {m: cam for m in ("saliency", "gradcam", "cam", "crm")})
    # Two lesions: at the card's threshold 0.4 both are drawn and outlined; at 0.7 only the first.
    lesions = block_map((slice(40, 60), slice(60, 120), 0.9), (slice(70, 90), slice(20, 60), 0.5))
    service.result_ready.emit(0, "lesions", "tb-lesions", SimpleNamespace(probability=lesions, threshold=0.4))
    harness.controller.open_side_by_side()
    window = harness.controller.compare_window
    qtbot.addWidget(window)
    qtbot.waitExposed(window)
    assert set(harness.controller.overlays.drawn) == {"gradcam", "tb_lesions"}
    assert harness.controller.overlays.drawn["tb_lesions"].contour is not None
    return harness, window


def expected_panes(harness) -> list[np.ndarray]:
    """(H', W', 3) uint8 per pane: its base under the window with the drawn layers, by `compose`,
    turned by the canvas's orientation."""
    canvas, drawn = harness.canvas, harness.controller.overlays.drawn
    layers = [drawn[kind] for kind in KINDS if kind in drawn]
    return [canvas.state.orientation.apply(compose(base, layers))
            for base in (canvas.original_image(), canvas.soft_tissue_image())]


def pane_rgb(window, pane: int, rows, columns) -> np.ndarray:
    """(n, 3) int RGB grabbed from a pane at the centres of turned-image pixels (rows[i], columns[i]):
    the ViewBox's own map from its coordinates to the screen, nothing assumed about zoom or pan."""
    picture = window.graphics.grab().toImage()
    ratio = picture.devicePixelRatio()
    box = window.boxes[pane]
    out = []
    for row, column in zip(rows, columns, strict=True):
        point = window.graphics.mapFromScene(box.mapViewToScene(QPointF(column + 0.5, row + 0.5)))
        colour = picture.pixelColor(int(point.x() * ratio), int(point.y() * ratio))
        out.append((colour.red(), colour.green(), colour.blue()))
    return np.array(out)


def assert_panes_show(window, expected: list[np.ndarray]) -> None:
    for pane, picture in enumerate(expected):
        rows, columns = inner_pixels(picture)
        assert len(rows) > 300
        np.testing.assert_allclose(pane_rgb(window, pane, rows, columns), picture[rows, columns], atol=1)


@pytest.mark.parametrize(("rotation", "flip_h", "flip_v"), [(90, True, False), (270, False, True)])
def test_panes_show_compose_of_the_drawn_layers_turned_as_the_canvas(compare, rotation, flip_h, flip_v):
    harness, window = compare
    state = harness.canvas.state
    state.rotation, state.flip_h, state.flip_v = rotation, flip_h, flip_v
    expected = expected_panes(harness)
    width, height = state.oriented_size()
    assert expected[0].shape == (height, width, 3) == (160, 96, 3)
    # The pictures hold the layers' colours and the lesion's white rim, and the two bases differ.
    assert (expected[0] == 255).all(axis=-1).sum() > 100
    assert len({tuple(c) for c in expected[0].reshape(-1, 3)}) >= 10
    assert (expected[0] != expected[1]).any(axis=-1).mean() > 0.5
    assert_panes_show(window, expected)
    # The canvas's own screen shows the same turned original with the same layers.
    np.testing.assert_array_equal(harness.controller.composed_view(), expected[0])


def test_layers_box_hides_the_layers_in_both_panes(compare):
    harness, window = compare
    state = harness.canvas.state
    state.rotation, state.flip_h = 90, True
    assert window.layers_box.isChecked() and window.layers_box.text() == "layers"
    window.layers_box.setChecked(False)
    canvas = harness.canvas
    bare = [state.orientation.apply(np.repeat(grey[..., None], 3, axis=-1))
            for grey in (canvas.original_image(), canvas.soft_tissue_image())]
    assert_panes_show(window, bare)
    assert harness.controller.overlays.items["gradcam"].isVisible()  # the canvas keeps its layers
    window.layers_box.setChecked(True)
    assert_panes_show(window, expected_panes(harness))


def test_threshold_and_window_changes_reach_the_panes_without_new_index_arrays(compare):
    harness, window = compare
    controller = harness.controller
    state = harness.canvas.state
    state.rotation, state.flip_h = 90, True
    pane_items = [pane.layers.items["tb_lesions"] for pane in window.panes]
    pane_rims = [pane.layers.contour_items["tb_lesions"] for pane in window.panes]
    index = controller.indexed["tb_lesions"].index
    shown = [item.image for item in pane_items]
    assert all(image.base is index for image in shown)  # pyqtgraph's view of the index, no copy
    before = expected_panes(harness)
    harness.panel.stack.update("tb_lesions", threshold=Threshold("value", 0.7))
    after = expected_panes(harness)
    # The second lesion (0.5) and its rim are gone: 20 · 40 pixels, turned.
    assert (before[0] != after[0]).any(axis=-1).sum() == 20 * 40
    assert all(item.image is image for item, image in zip(pane_items, shown, strict=True))
    assert controller.indexed["tb_lesions"].index is index
    drawn = controller.overlays.drawn["tb_lesions"]
    for item, rim in zip(pane_items, pane_rims, strict=True):
        np.testing.assert_array_equal(item.lut, drawn.lut)
        assert (rim.pos().x(), rim.pos().y()) == (drawn.contour.left, drawn.contour.top)
        np.testing.assert_array_equal(rim.image, drawn.contour.mask.view(np.uint8))
    rim = drawn.contour.full(index.shape)
    assert rim[40:60, 60:120].sum() == 2 * (20 + 60) - 4 and not rim[62:].any()  # the first lesion's only
    assert_panes_show(window, after)
    # Opacity and visibility too; then a window change re-greys both bases.
    harness.panel.controls["gradcam"].opacity.setValue(900)
    harness.panel.controls["tb_lesions"].visible.setChecked(False)
    assert not any(item.isVisible() for item in pane_items + pane_rims)
    state.window = type(state.window)(1500, 2000)
    assert_panes_show(window, expected_panes(harness))


def test_a_closed_window_is_detached_and_shows_the_current_layers_when_reopened(compare, qtbot):
    harness, window = compare
    state = harness.canvas.state
    state.rotation, state.flip_h = 90, True  # upright, the 160 x 96 study overflows the linked pane
    overlays = harness.controller.overlays
    assert len(overlays._targets) == 3  # the canvas and both panes
    window.close()
    assert len(overlays._targets) == 1 and all(pane.layers is None for pane in window.panes)
    # A change while closed reaches no pane item; reopening attaches the layers as they are then.
    harness.panel.stack.update("tb_lesions", threshold=Threshold("value", 0.7))
    harness.controller.open_side_by_side()
    qtbot.waitExposed(window)
    assert len(overlays._targets) == 3
    drawn = overlays.drawn["tb_lesions"]
    for pane in window.panes:
        np.testing.assert_array_equal(pane.layers.items["tb_lesions"].lut, drawn.lut)
    assert_panes_show(window, expected_panes(harness))
