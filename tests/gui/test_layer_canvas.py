"""The layers on a real canvas, offscreen: LUT-only slider moves, screen pixels equal to `compose`,
the soft-tissue base, contours, results from the analysis service, and the reader's default."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from layer_support import COLUMNS, ROWS, block_map, shown_harness
from PySide6.QtCore import QSettings
from screen_support import inner_pixels, screen_at_view
from viewer_support import open_and_wait

from cxrviewer.analysis.findings import Finding
from cxrviewer.core.display.compose import Threshold, build_lut, compose, layer, threshold_index
from cxrviewer.core.display.indexed_image import display_table
from cxrviewer.core.display.soft_tissue_base import soft_tissue_base
from cxrviewer.core.layers import MAP_KINDS, ClassSelector, LayerStack, drawn_layer, map_strength
from cxrviewer.gui.explained_class import NO_DEFAULT_TEXT
from cxrviewer.gui.layer_controller import WITHHELD_TEXT, LayerController
from cxrviewer.gui.layer_panel import LayerPanel

MODEL = "pneumonia-kermany"


@pytest.fixture
def harness(qtbot, tmp_path):
    return shown_harness(qtbot, tmp_path)


def cam_map() -> np.ndarray:
    """Blocks of 0.2 / 0.6 / 1.0 in the middle rows, 0 elsewhere."""
    rows = slice(30, 66)
    return block_map((rows, slice(10, 50), 0.2), (rows, slice(50, 100), 0.6), (rows, slice(100, 150), 1.0))


def send_maps(widget, study=0, class_index=1, scale=1.0):
    maps = {m: cam_map() * scale for m in ("saliency", "gradcam", "cam", "crm")}
    widget.service.result_ready.emit(study, "maps", (MODEL, class_index), maps)


def test_slider_moves_rebuild_only_the_lookup_table(harness):
    harness.show_study()
    send_maps(harness)
    item = harness.controller.overlays.items["gradcam"]
    index, shown = harness.controller.indexed["gradcam"].index, item.image
    assert shown.base is index and item.isVisible()
    controls = harness.panel.controls["gradcam"]
    controls.threshold.setValue(700)  # 70 % of max
    controls.opacity.setValue(900)
    style = harness.panel.stack["gradcam"].style
    assert style.threshold == Threshold("fraction", 0.7) and style.opacity == 0.9
    assert item.image is shown and harness.controller.indexed["gradcam"].index is index
    first = threshold_index(harness.controller.indexed["gradcam"], style.threshold)
    assert first == 178  # 0.7 · 255 = 178.5, rounded half to even
    np.testing.assert_array_equal(item.lut, build_lut(style, first))
    controls.colormap.setCurrentText("viridis")
    assert item.image is shown and harness.panel.stack["gradcam"].style.colormap == "viridis"


def test_screen_pixels_equal_compose_of_the_same_layers(harness):
    loaded = harness.show_study()
    send_maps(harness)
    lesions = block_map((slice(40, 60), slice(60, 120), 0.9))
    harness.service.result_ready.emit(0, "lesions", "tb-lesions", SimpleNamespace(probability=lesions, threshold=0.4))
    # The reader asks for three maps: a tick replaces the maps on by default, so each is ticked.
    for kind in ("crm", "gradcam", "tb_lesions"):
        harness.panel.controls[kind].visible.setChecked(False)
        harness.panel.controls[kind].visible.setChecked(True)
    stack = harness.panel.stack
    assert stack["tb_lesions"].style.threshold == Threshold("value", 0.4)  # the card's threshold adopted
    composed = harness.controller.composed_view()
    base = harness.canvas.displayed_image()
    expected = compose(base, [layer(harness.controller.indexed[k], stack[k].style) for k in ("gradcam", "crm",
                                                                                             "tb_lesions")])
    np.testing.assert_array_equal(composed, expected)
    np.testing.assert_array_equal(base, np.rint(loaded.image.pixels * 255).astype(np.uint8))
    # Interior pixels of every block (away from edges where the screen's sampling could straddle two)
    rows = [20, 35, 35, 35, 50, 50, 50, 50, 70]
    columns = [20, 30, 75, 125, 70, 85, 115, 125, 130]
    assert (composed[rows, columns] != base[rows, columns, None]).any(axis=1).sum() >= 6
    harness.controller.legend.hide()  # it sits over the film's bottom centre; these pixels are the film's
    screen = harness.screen_rgb(rows, columns)
    np.testing.assert_allclose(screen, composed[rows, columns], atol=1)
    summary = harness.controller.visible_layer_summary()
    assert summary[0] == "Base: original" and len(summary) == 4
    assert summary[1].startswith(f"Grad-CAM · {MODEL} / class 1 · threshold ≥ 20 % of max (0.2)")
    assert summary[3].startswith("TB lesions · threshold ≥ 0.4 · opacity 45 %")
    # The exports' legends (issue 20, item 10): one per layer drawn, what it explains, its display threshold.
    legends = harness.controller.visible_layer_legends()
    assert [legend.name for legend in legends] == ["Grad-CAM", "CRM", "TB lesions"]
    assert legends[0].explains == f"{MODEL} / class 1" and legends[2].explains == "tb-lesions"
    assert legends[0].threshold.startswith("display threshold: only shown above 20 % of this map's maximum")
    assert legends[2].threshold == "display threshold: only shown above 40.0 %" and legends[2].colormap == "reds"


def test_contour_is_drawn_on_screen_and_in_the_composed_view(harness):
    harness.show_study()
    lungs = block_map((slice(20, 80), slice(20, 70), 0.95))
    harness.service.result_ready.emit(0, "lungs", "lungs-unet", lungs)
    harness.panel.controls["lung_outline"].visible.setChecked(True)
    composed = harness.controller.composed_view()
    outline = (0, 200, 255)
    assert (composed[20, 20:70] == outline).all() and (composed[79, 20:70] == outline).all()
    assert (composed[21:79, 21:69] != outline).any(axis=-1).all()  # contour only: no fill
    assert harness.controller.overlays.contour_items["lung_outline"].isVisible()
    np.testing.assert_array_equal(harness.screen_rgb([20, 50, 79], [40, 20, 60]), [outline] * 3)
    harness.panel.controls["lung_outline"].contour.setChecked(False)
    assert not harness.controller.overlays.contour_items["lung_outline"].isVisible()


def test_zoomed_out_the_rim_on_screen_is_wide_enough_to_stay_unbroken(harness):
    """Qt samples a zoomed-out image without filtering: a one-pixel rim would show in pieces. On
    screen the rim is as wide as a screen pixel spans; exports keep the one-pixel rim."""
    harness.show_study()
    lungs = block_map((slice(20, 80), slice(20, 70), 0.95))
    harness.service.result_ready.emit(0, "lungs", "lungs-unet", lungs)
    harness.panel.controls["lung_outline"].visible.setChecked(True)
    overlays, state = harness.controller.overlays, harness.canvas.state
    exported = harness.controller.composed_view()
    state.zoom = 0.3
    assert overlays.rim_width == 4  # one screen pixel spans 3.3 image pixels
    rim_item = overlays.contour_items["lung_outline"]
    top, left = int(rim_item.pos().y()), int(rim_item.pos().x())
    shown = np.zeros((ROWS, COLUMNS), bool)
    shown[top:top + rim_item.image.shape[0], left:left + rim_item.image.shape[1]] = rim_item.image.astype(bool)
    band = np.zeros((ROWS, COLUMNS), bool)
    band[20:80, 20:70] = True
    band[24:76, 24:66] = False  # four image pixels wide, inside the region
    np.testing.assert_array_equal(shown, band)
    np.testing.assert_array_equal(harness.controller.composed_view(), exported)  # exports: one pixel
    state.zoom = 2.0
    assert overlays.rim_width == 1
    np.testing.assert_array_equal(rim_item.image, overlays.drawn["lung_outline"].contour.mask.view(np.uint8))


def test_zoomed_out_a_round_outline_shows_without_gaps(harness):
    """On a disc's outline a one-pixel rim breaks into dashes when Qt samples every 1/zoom pixels;
    the wider screen rim does not: the screen shows the outline colour all the way round."""
    harness.show_study()
    yy, xx = np.mgrid[:ROWS, :COLUMNS]
    radius, cy0, cx0 = 40.0, 48.0, 80.0
    disc = (np.hypot(yy + 0.5 - cy0, xx + 0.5 - cx0) <= radius).astype(np.float32) * 0.95
    harness.service.result_ready.emit(0, "lungs", "lungs-unet", disc)
    harness.panel.controls["lung_outline"].visible.setChecked(True)
    state = harness.canvas.state
    state.zoom = 0.3
    picture = harness.canvas.grab().toImage()
    ratio = picture.devicePixelRatio()
    width, height = harness.canvas.viewport_size()
    cx, cy = state.center
    def outline_on_screen(row: float, column: float) -> bool:
        vx, vy = state.image_to_view(column, row)
        x, y = width / 2 + (vx - cx) * state.zoom, height / 2 + (vy - cy) * state.zoom
        c = picture.pixelColor(int(x * ratio), int(y * ratio))
        return (c.red(), c.green(), c.blue()) == (0, 200, 255)

    # At each angle, the screen pixels across the edge's last four image pixels (radially).
    missed = [round(float(np.degrees(angle))) for angle in np.linspace(0, 2 * np.pi, 72, endpoint=False)
              if not any(outline_on_screen(cy0 + r * np.sin(angle), cx0 + r * np.cos(angle))
                         for r in np.arange(radius - 4, radius, 0.5))]
    assert not missed, f"outline not shown at {missed} degrees"


@pytest.mark.parametrize(("rotation", "flip_h", "flip_v"), [
    (90, False, False), (180, False, False), (270, False, False), (0, True, False), (0, False, True),
    (90, True, False), (270, False, True),
])
def test_composed_view_is_turned_as_the_screen_shows_it(harness, rotation, flip_h, flip_v):
    harness.show_study()
    send_maps(harness)
    lungs = block_map((slice(20, 80), slice(20, 70), 0.95))
    harness.service.result_ready.emit(0, "lungs", "lungs-unet", lungs)
    harness.panel.controls["lung_outline"].visible.setChecked(True)
    flat = harness.controller.overlays.composed(harness.canvas.displayed_image())
    state = harness.canvas.state
    state.rotation, state.flip_h, state.flip_v = rotation, flip_h, flip_v
    composed = harness.controller.composed_view()
    width, height = state.oriented_size()
    assert composed.shape == (height, width, 3)
    # Every image pixel is where the view state's own map sends its centre.
    turned = np.zeros_like(composed)
    for row in range(ROWS):
        for column in range(COLUMNS):
            view_x, view_y = state.image_to_view(column + 0.5, row + 0.5)
            turned[int(view_y), int(view_x)] = flat[row, column]
    np.testing.assert_array_equal(composed, turned)
    # And the screen, drawn through the canvas's transform, shows the same picture.
    rows, columns = inner_pixels(composed)
    assert len(rows) > 500 and len({tuple(c) for c in composed[rows, columns]}) >= 6  # bands, blocks, ramp
    np.testing.assert_allclose(screen_at_view(harness.canvas, rows, columns), composed[rows, columns], atol=1)


def test_soft_tissue_base_follows_the_window_and_b_toggles_it(harness):
    loaded = harness.show_study()
    pixels = loaded.image.pixels
    same = soft_tissue_base(pixels, pixels, loaded.indexed)
    table = display_table(loaded.indexed, harness.canvas.state.window, invert=False)
    np.testing.assert_array_equal(same.grey(table), harness.canvas.original_image())  # soft == original
    soft = pixels * 0.5
    messages = []
    harness.controller.message.connect(messages.append)
    harness.controller.toggle_base()  # before the soft tissue exists: the original stays, and why
    assert not harness.canvas.showing_soft_tissue and "no soft-tissue view yet" in messages[0]
    harness.controller.toggle_base()
    harness.service.result_ready.emit(0, "soft_tissue", "bone-suppression-jsrt", (soft, pixels - soft))
    original = harness.canvas.displayed_image().copy()
    harness.controller.toggle_base()
    assert len(messages) == 1
    assert harness.panel.soft_tissue.isChecked() and harness.canvas.showing_soft_tissue
    shown = harness.canvas.displayed_image()
    # Window C 2000 W 4000 over the band values: soft tissue at half the grey of the original.
    assert np.abs(shown.astype(int) - np.rint(original / 2).astype(int)).max() <= 1
    np.testing.assert_allclose(harness.screen_rgb([50] * 4, [20, 60, 100, 140])[:, 0], shown[50, [20, 60, 100, 140]],
                               atol=1)
    harness.canvas.state.window = type(harness.canvas.state.window)(2000, 2000)
    assert (harness.canvas.displayed_image() != shown).any()  # windowing acts on the soft tissue too
    assert harness.controller.visible_layer_summary()[0] == "Base: bone-suppressed soft tissue (bone-suppression-jsrt)"
    harness.panel.soft_tissue.setChecked(False)
    assert harness.panel.stack.base == "original" and not harness.canvas.showing_soft_tissue


def finding(model, labels, positive, probabilities=None) -> Finding:
    probabilities = probabilities or tuple(1.0 if i in positive else 0.0 for i in range(len(labels)))
    return Finding(model, labels, probabilities, positive, "threshold", 0.5, "CPU", 0.01)


def test_class_choice_asks_the_service_and_ignores_other_classes(harness):
    harness.show_study(study_id=3)
    harness.service.result_ready.emit(3, "finding", MODEL, finding(MODEL, ("normal", "pneumonia"), (0,)))
    assert [harness.panel.classes.itemText(i) for i in range(2)] == [f"{MODEL} / normal", f"{MODEL} / pneumonia"]
    # No class chosen and a "normal" call: no map by default (issue 20: never a negative class).
    assert harness.panel.stack.selector is None and harness.service.requests == [("forget",)]
    assert harness.panel.controls["gradcam"].status.text() == NO_DEFAULT_TEXT
    harness.panel.classes.setCurrentIndex(1)
    assert harness.panel.stack.selector == ClassSelector(MODEL, 1, "pneumonia")
    assert harness.service.requests == [("forget",), (3, MODEL, 1)]
    send_maps(harness, study=3, class_index=0)  # another class: not shown
    assert "gradcam" not in harness.controller.raw
    send_maps(harness, study=2, class_index=1)  # another study: not shown
    assert "gradcam" not in harness.controller.raw
    send_maps(harness, study=3, class_index=1, scale=2.0)
    assert harness.controller.indexed["gradcam"].maximum == 2.0
    assert harness.canvas.film_text.caption.text().endswith(f": {MODEL} / pneumonia — <0.1 %")  # what the map explains
    harness.service.step_failed.emit(3, "lungs", "lungs-unet", "model lungs-unet: checksum mismatch")
    assert "checksum mismatch" in harness.panel.controls["lung_outline"].status.text()
    # The reader's choice is kept on the next study; a default one is not.
    harness.show_study(study_id=4)
    assert harness.panel.stack.selector == ClassSelector(MODEL, 1, "pneumonia")


def test_the_maps_explain_a_tb_screening_classifiers_tb_class_by_default_whatever_its_call(harness):
    harness.show_study(study_id=4)
    harness.service.result_ready.emit(4, "finding", "tb-screen", finding("tb-screen", ("normal", "tb"), (0,)))
    harness.service.result_ready.emit(4, "finding", MODEL, finding(MODEL, ("normal", "pneumonia"), (1,)))
    assert harness.panel.stack.selector == ClassSelector("tb-screen", 1, "tb")
    assert harness.service.requests == [("forget",), (4, "tb-screen", 1)]
    # The next study decides its own default: the last one's does not carry over.
    harness.show_study(study_id=5)
    assert harness.panel.stack.selector is None
    harness.service.result_ready.emit(5, "finding", MODEL, finding(MODEL, ("normal", "pneumonia"), (1,), (0.2, 0.8)))
    assert harness.panel.stack.selector == ClassSelector(MODEL, 1, "pneumonia")


def test_no_maps_while_the_findings_are_withheld(harness):
    """Issue 20: the gate withheld the findings while a whole-film map covered the film."""
    from PySide6.QtCore import QObject, Signal

    class Findings(QObject):
        findings_shown_changed = Signal(bool)
        shown = False

        def findings_shown(self):
            return self.shown

    panel = Findings()
    harness.controller.attach_findings(panel)
    harness.show_study(study_id=6)
    harness.service.result_ready.emit(6, "finding", MODEL, finding(MODEL, ("normal", "pneumonia"), (1,)))
    assert harness.panel.stack.selector == ClassSelector(MODEL, 1, "pneumonia")
    assert harness.service.requests == [("forget",)]  # withheld: not even asked for
    send_maps(harness, study=6, class_index=1)
    assert "gradcam" not in harness.controller.raw and harness.canvas.film_text.caption.text() == ""
    panel.shown = True  # the gate accepted, or the reader clicked "Show anyway"
    panel.findings_shown_changed.emit(True)
    assert harness.service.requests[-1] == (6, MODEL, 1)
    send_maps(harness, study=6, class_index=1)
    assert "gradcam" in harness.controller.raw and MODEL in harness.canvas.film_text.caption.text()
    panel.shown = False
    panel.findings_shown_changed.emit(False)
    assert "gradcam" not in harness.controller.raw
    assert harness.panel.controls["gradcam"].status.text() == WITHHELD_TEXT


def test_results_for_a_study_not_shown_are_dropped(harness):
    """The window switches the layers to a study before it asks for its analysis (issue 18: no
    buffering of early results), so a result for any other study is a late one from a study the
    reader left: it must not reach the layers of the one shown."""
    harness.show_study(study_id=4)
    send_maps(harness, study=5)
    harness.service.step_failed.emit(5, "soft_tissue", "bones", "model bones: not installed")
    assert "gradcam" not in harness.controller.raw
    assert "not installed" not in harness.panel.controls["bones"].status.text()
    send_maps(harness, study=4)  # the shown study's own result does arrive
    assert harness.controller.indexed["gradcam"].maximum == 1.0


def test_layer_state_persists_across_studies_and_as_the_readers_default(qtbot, harness, tmp_path):
    harness.show_study()
    harness.panel.controls["crm"].visible.setChecked(True)
    harness.panel.controls["crm"].mode.setCurrentIndex(1)  # percentile
    harness.panel.controls["crm"].threshold.setValue(950)
    harness.show_study(study_id=1)
    assert harness.panel.stack["crm"].style.threshold == Threshold("percentile", 95.0)
    harness.controller.select_class(ClassSelector(MODEL, 1))
    harness.panel.save_default.click()
    settings = QSettings(str(tmp_path / "layers.ini"), QSettings.Format.IniFormat)
    panel = LayerPanel()
    qtbot.addWidget(panel)
    LayerController(harness.canvas, panel, settings)
    assert panel.stack.selector is None  # the class explained is not part of the default
    assert [s.style for s in panel.stack] == [s.style for s in harness.panel.stack]
    assert [s.visible for s in panel.stack] == [s.visible for s in harness.panel.stack]
    assert panel.controls["crm"].visible.isChecked() and panel.controls["crm"].threshold.value() == 950
    panel.reset.click()
    assert list(panel.stack) == list(LayerStack())
    settings.setValue("layers/default", "{not json")
    other = LayerPanel()
    qtbot.addWidget(other)
    LayerController(harness.canvas, other, settings)  # a damaged default is ignored, with a warning
    assert list(other.stack) == list(LayerStack())
    assert ROWS * COLUMNS == harness.canvas.displayed_image().size


def test_window_b_and_o_keys_switch_the_base_and_the_layers_and_composed_view_matches(qtbot, no_models, viewer, band_study):
    open_and_wait(qtbot, viewer, band_study)
    study = viewer.analysis.study
    pixels = viewer.canvas.image.pixels
    shape = pixels.shape
    cam = np.zeros(shape, np.float32)
    cam[20:100, 60:140] = 1.0
    viewer.analysis.result_ready.emit(study, "maps", (MODEL, 1), {"gradcam": cam})
    viewer.analysis.result_ready.emit(study, "soft_tissue", "bone-suppression-jsrt", (pixels * 0.5, pixels * 0.5))
    original = viewer.canvas.displayed_image().copy()
    composed = viewer.composed_view()
    drawn = viewer.layers.overlays.drawn["gradcam"]
    np.testing.assert_array_equal(composed, compose(original, [drawn]))
    assert (composed[50, 100] != original[50, 100]).any() and (composed[5, 5] == original[5, 5]).all()
    qtbot.keyClick(viewer.canvas, "B")
    assert viewer.layer_panel.stack.base == "soft_tissue" and viewer.canvas.showing_soft_tissue
    soft = viewer.canvas.displayed_image()
    assert (soft != original).any()
    np.testing.assert_array_equal(viewer.composed_view(), compose(soft, [drawn]))
    assert viewer.visible_layer_summary()[0].startswith("Base: bone-suppressed")
    qtbot.keyClick(viewer.canvas, "B")
    np.testing.assert_array_equal(viewer.canvas.displayed_image(), original)
    qtbot.keyClick(viewer.canvas, "O")  # every layer off, then on again
    assert not viewer.layer_panel.layers_shown.isChecked()
    np.testing.assert_array_equal(viewer.composed_view(), np.repeat(original[..., None], 3, axis=-1))
    qtbot.keyClick(viewer.canvas, "O")
    np.testing.assert_array_equal(viewer.composed_view(), composed)


def test_all_layers_switch_hides_and_restores_them_as_they_were(harness):
    harness.show_study()
    send_maps(harness)
    lesions = block_map((slice(40, 60), slice(60, 120), 0.9))
    harness.service.result_ready.emit(0, "lesions", "tb-lesions", SimpleNamespace(probability=lesions, threshold=0.4))
    controller, panel = harness.controller, harness.panel
    before = controller.composed_view()
    drawn = dict(controller.overlays.drawn)
    assert set(drawn) == {"gradcam", "tb_lesions"} and controller.overlays.items["gradcam"].isVisible()
    states = {kind: panel.stack[kind] for kind in drawn}
    panel.layers_shown.setChecked(False)  # the panel's switch; key O calls the same
    base = harness.canvas.displayed_image()
    np.testing.assert_array_equal(controller.composed_view(), np.repeat(base[..., None], 3, axis=-1))
    assert not controller.overlays.drawn and controller.visible_layer_summary() == ["Base: original"]
    assert not any(item.isVisible() for item in controller.overlays.items.values())
    assert all(panel.stack[kind] == state for kind, state in states.items())  # their own settings kept
    controller.toggle_layers()
    assert panel.layers_shown.isChecked()
    np.testing.assert_array_equal(controller.composed_view(), before)
    assert all(np.array_equal(controller.overlays.drawn[k].lut, drawn[k].lut) for k in drawn)
    # Turning one layer on while all are off brings the layers back; the reader's tick replaces the
    # heat maps that were on by default (one map at a time, issue 20).
    controller.toggle_layers()
    panel.controls["crm"].visible.setChecked(True)
    assert controller.overlays.shown and panel.layers_shown.isChecked()
    assert set(controller.overlays.drawn) == {"crm"}


def test_the_value_under_the_cursor_is_each_drawn_layers_raw_map_value(harness):
    harness.show_study()
    send_maps(harness, scale=0.13)  # Grad-CAM's raw scale, not its colour index
    lesions = block_map((slice(40, 60), slice(60, 120), 0.9))
    harness.service.result_ready.emit(0, "lesions", "tb-lesions", SimpleNamespace(probability=lesions, threshold=0.4))
    controller = harness.controller
    values = dict(controller.values_at(50, 110))
    assert values == {"Grad-CAM": pytest.approx(0.13), "TB lesions": pytest.approx(0.9)}
    assert dict(controller.values_at(50, 30)) == {"Grad-CAM": pytest.approx(0.026), "TB lesions": 0.0}
    controller.set_layers_shown(False)
    assert controller.values_at(50, 110) == []  # only what is drawn


def test_flicker_and_side_by_side_compare_original_and_soft_tissue(qtbot, harness):
    loaded = harness.show_study()
    pixels = loaded.image.pixels
    harness.controller.open_side_by_side()
    compare = harness.controller.compare_window
    qtbot.addWidget(compare)
    assert not compare.items[1].isVisible() and "No bone-suppressed view" in compare.note.text()
    harness.service.result_ready.emit(0, "soft_tissue", "bones-model", (pixels * 0.5, pixels * 0.5))
    harness.panel.side_by_side.click()
    np.testing.assert_array_equal(compare.items[0].image, harness.canvas.original_image())
    np.testing.assert_array_equal(compare.items[1].image, harness.canvas.soft_tissue_image())
    assert compare.items[1].isVisible() and (compare.items[1].image != compare.items[0].image).any()
    harness.panel.flicker.setChecked(True)
    qtbot.waitUntil(lambda: harness.canvas.showing_soft_tissue, timeout=5000)
    qtbot.waitUntil(lambda: not harness.canvas.showing_soft_tissue, timeout=5000)
    qtbot.waitUntil(lambda: harness.canvas.showing_soft_tissue, timeout=5000)
    assert harness.panel.stack.base == "original"  # flicker leaves the reader's choice alone
    harness.panel.flicker.setChecked(False)
    assert not harness.canvas.showing_soft_tissue


def test_the_real_analysis_service_feeds_every_layer(qtbot, pipeline_models_dir, monkeypatch, settings, band_study):
    from cxrviewer.gui.main_window import MainWindow

    monkeypatch.setenv("CXRVIEWER_MODELS", str(pipeline_models_dir))
    window = MainWindow(settings=settings)
    qtbot.addWidget(window)
    window.show()
    open_and_wait(qtbot, window, band_study)
    controller = window.layers
    qtbot.waitUntil(lambda: window.analysis.cached(window.analysis.study, "finding", "classifier") is not None,
                    timeout=60000)
    finding = window.analysis.cached(window.analysis.study, "finding", "classifier")
    # By default the maps explain the classifier's call only when it called the finding ("abnormal").
    default = window.layer_panel.stack.selector
    assert (default.class_index if default else None) == (1 if finding.positive == (1,) else None)
    window.findings_panel.class_selected.emit("classifier", 1)  # the reader asks for "abnormal"
    kinds = ("saliency", "gradcam", "crm", "tb_lesions", "lung_outline", "bones")
    qtbot.waitUntil(lambda: all(k in controller.raw for k in kinds), timeout=60000)
    assert (window.layer_panel.stack.selector.model, window.layer_panel.stack.selector.class_index) == ("classifier", 1)
    for kind in kinds:
        window.layer_panel.controls[kind].visible.setChecked(True)
    assert set(controller.overlays.drawn) == set(kinds)
    stack = window.layer_panel.stack
    in_order = [s.kind for s in stack.visible() if s.kind in controller.indexed]
    assert in_order == ["bones", "saliency", "gradcam", "crm", "tb_lesions", "lung_outline"]  # draw order
    # The explanation maps are drawn at their opacity weighed by the class's probability (issue 20).
    expected = compose(window.canvas.displayed_image(), [drawn_layer(stack[k], controller.indexed[k],
                                                                     map_strength(finding.probabilities[1])
                                                                     if k in MAP_KINDS else 1.0) for k in in_order])
    np.testing.assert_array_equal(window.composed_view(), expected)
    qtbot.keyClick(window.canvas, "B")
    assert window.canvas.showing_soft_tissue
    window.session.shutdown()
    window.analysis.shutdown()
