"""The real main window, driven offscreen with keys and mouse events."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PIL import Image as PilImage
from pydicom.dataset import Dataset
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication
from viewer_support import (
    BAND_VALUES,
    COLUMNS,
    ROWS,
    band_pixels,
    drag,
    image_to_widget,
    open_and_wait,
    wheel,
    write_dicom,
)

from cxrviewer.core.display.voi import apply_window
from cxrviewer.core.image import WindowPreset
from cxrviewer.core.spacing_check import DOUBT_TEXT
from cxrviewer.core.viewstate import DRAG_PIXELS_PER_RANGE, Ruler


def expected_display(center: float, width: float, *, invert: bool = False) -> np.ndarray:
    shown = apply_window(band_pixels(), center, width, invert=invert)
    return np.rint(shown * 255).astype(np.uint8)


def rendered_band_greys(window) -> list[int]:
    """Grey level on screen at the middle of each band, read from a grab of the canvas."""
    picture = window.canvas.grab().toImage()
    ratio = picture.devicePixelRatio()
    greys = []
    for band in range(4):
        point = image_to_widget(window, band * 50 + 25, ROWS / 2)
        greys.append(picture.pixelColor(int(point.x() * ratio), int(point.y() * ratio)).red())
    return greys


def press(qtbot, window, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(window.canvas, key, modifier)


def highlighted(window) -> int:
    """The study the worklist's table highlights."""
    worklist = window.worklist
    return worklist.proxy.mapToSource(worklist.view.currentIndex()).row()


def click_study(qtbot, window, study: int) -> None:
    """Click `study`'s row in the worklist, as the reader does to open it."""
    worklist = window.worklist
    index = worklist.proxy.mapFromSource(worklist.model.index(study, worklist.model.column("File")))
    qtbot.mouseClick(worklist.view.viewport(), Qt.MouseButton.LeftButton, pos=worklist.view.visualRect(index).center())


def test_open_study_shows_it_with_its_first_window(qtbot, viewer, band_study):
    open_and_wait(qtbot, viewer, band_study)
    (row,) = viewer.worklist.model.rows
    assert row.path == band_study and row.loaded and not row.load_error
    assert viewer.canvas.image.meta.modality == "CR"
    assert viewer.canvas.image.shape == (ROWS, COLUMNS)
    state = viewer.canvas.state
    assert (state.window.center, state.window.width) == (2000, 4000)
    np.testing.assert_array_equal(viewer.canvas.displayed_image(), expected_display(2000, 4000))
    assert rendered_band_greys(viewer) == [int(v) for v in expected_display(2000, 4000)[0, 25::50]]
    assert "bands.dcm" in viewer.windowTitle()
    viewer.tag_browser.filter.setText("PixelSpacing")
    assert viewer.tag_browser.visible_rows() >= 1
    assert "C 2000  W 4000" in viewer.status.window.text()


def test_left_drag_windows_and_the_render_follows(qtbot, viewer, band_study):
    open_and_wait(qtbot, viewer, band_study)
    state = viewer.canvas.state
    value_range = BAND_VALUES[-1] - BAND_VALUES[0]
    start = image_to_widget(viewer, 100, 60)
    drag(viewer.canvas.viewport(), start, start + QPointF(-120, 60))
    step = value_range / DRAG_PIXELS_PER_RANGE
    assert state.window.width == pytest.approx(4000 - 120 * step)
    assert state.window.center == pytest.approx(2000 + 60 * step)
    expected = expected_display(state.window.center, state.window.width)
    np.testing.assert_array_equal(viewer.canvas.displayed_image(), expected)
    assert rendered_band_greys(viewer) == [int(v) for v in expected[0, 25::50]]
    assert not np.array_equal(expected, expected_display(2000, 4000))


def test_presets_on_number_keys_and_reset(qtbot, viewer, band_study):
    open_and_wait(qtbot, viewer, band_study)
    state = viewer.canvas.state
    press(qtbot, viewer, Qt.Key.Key_2)
    assert (state.window.center, state.window.width) == (1500, 1000)
    np.testing.assert_array_equal(viewer.canvas.displayed_image(), expected_display(1500, 1000))
    press(qtbot, viewer, Qt.Key.Key_3)  # after the file's two presets: the named ones (issue 20)
    assert state.window.name == "lung"
    press(qtbot, viewer, Qt.Key.Key_5)
    assert state.window.name == "bone" and "(bone)" in viewer.canvas.film_text.labels["bottom_left"].text()
    press(qtbot, viewer, Qt.Key.Key_I)
    press(qtbot, viewer, Qt.Key.Key_0)
    assert (state.window.center, state.window.width, state.invert) == (2000, 4000, False)


def test_invert_turns_each_grey_v_into_1_minus_v(qtbot, viewer, band_study):
    open_and_wait(qtbot, viewer, band_study)
    before = rendered_band_greys(viewer)
    press(qtbot, viewer, Qt.Key.Key_I)
    assert viewer.canvas.state.invert
    after = rendered_band_greys(viewer)
    assert [255 - grey for grey in before] == pytest.approx(after, abs=1)
    np.testing.assert_array_equal(viewer.canvas.displayed_image(), expected_display(2000, 4000, invert=True))
    assert "inverted" in viewer.status.window.text()


def test_zoom_keys_wheel_fit_and_actual_size(qtbot, viewer, band_study):
    open_and_wait(qtbot, viewer, band_study)
    state = viewer.canvas.state
    width, height = viewer.canvas.viewport_size()
    fit = min(width / COLUMNS, height / ROWS)
    assert state.zoom == pytest.approx(fit)
    press(qtbot, viewer, Qt.Key.Key_Plus)
    assert state.zoom == pytest.approx(fit * 1.25)
    press(qtbot, viewer, Qt.Key.Key_Minus)
    press(qtbot, viewer, Qt.Key.Key_Minus)
    assert state.zoom == pytest.approx(fit / 1.25)
    press(qtbot, viewer, Qt.Key.Key_Z)
    assert state.zoom == 1.0
    # The wheel zooms about the cursor: the image point under it stays under it. (Qt hands the
    # scene whole-pixel wheel positions, so the cursor sits on a whole pixel.)
    anchor = image_to_widget(viewer, 30, 40).toPoint().toPointF()
    under_cursor = state.view_to_image(*viewer.canvas.to_view(anchor))
    wheel(viewer.canvas.viewport(), anchor, notches=2)
    assert state.zoom == pytest.approx(2**0.5)
    assert image_to_widget(viewer, *under_cursor).x() == pytest.approx(anchor.x(), abs=1e-6)
    assert image_to_widget(viewer, *under_cursor).y() == pytest.approx(anchor.y(), abs=1e-6)
    press(qtbot, viewer, Qt.Key.Key_Equal)
    assert state.zoom == pytest.approx(fit) and state.fitted
    assert "zoom" in viewer.status.zoom.text()


def test_pan_with_right_drag(qtbot, viewer, band_study):
    open_and_wait(qtbot, viewer, band_study)
    state = viewer.canvas.state
    before = image_to_widget(viewer, 100, 60)
    drag(viewer.canvas.viewport(), before, before + QPointF(40, -25), button=Qt.MouseButton.RightButton)
    after = image_to_widget(viewer, 100, 60)
    assert (after.x() - before.x(), after.y() - before.y()) == pytest.approx((40, -25))
    assert (state.window.center, state.window.width) == (2000, 4000)  # panning is not windowing


def test_rotate_and_flip_turn_the_image_on_screen(qtbot, viewer, band_study):
    open_and_wait(qtbot, viewer, band_study)
    state = viewer.canvas.state
    press(qtbot, viewer, Qt.Key.Key_BracketRight)
    assert state.rotation == 90
    transform = viewer.canvas.image_space.transform()
    assert transform.map(QPointF(0, 0)) == QPointF(ROWS, 0)  # top-left corner to the top-right
    width, height = viewer.canvas.viewport_size()
    assert state.zoom == pytest.approx(min(width / ROWS, height / COLUMNS))  # refitted to the turned image
    press(qtbot, viewer, Qt.Key.Key_BracketLeft)
    press(qtbot, viewer, Qt.Key.Key_H)
    assert (state.rotation, state.flip_h) == (0, True)
    # Flipped left-right, the brightest band (image columns 150-199) is now on the left of the screen.
    greys = rendered_band_greys(viewer)
    assert viewer.canvas.image_space.transform().map(QPointF(0, 0)) == QPointF(COLUMNS, 0)
    left = viewer.canvas.grab().toImage().pixelColor(int(image_to_widget(viewer, 175, 60).x()), 300).red()
    assert left == max(greys)
    press(qtbot, viewer, Qt.Key.Key_V)
    assert state.flip_v


def test_ruler_drag_measures_in_mm(qtbot, viewer, band_study):
    open_and_wait(qtbot, viewer, band_study)
    press(qtbot, viewer, Qt.Key.Key_Z)  # 1:1, so 100 screen pixels are 100 image pixels
    press(qtbot, viewer, Qt.Key.Key_M)
    assert viewer.canvas.ruler_tool
    start = image_to_widget(viewer, 40, 60)
    labels = []
    viewer.canvas.ruler_changed.connect(labels.append)
    drag(viewer.canvas.viewport(), start, start + QPointF(100, 0))
    ruler = viewer.canvas.state.ruler
    assert ruler.length_px() == pytest.approx(100.0)
    # The band study is 4 cm wide at its spacing: no chest film is, and the label says so (issue 20).
    measured = f"20.0 mm ({DOUBT_TEXT})"
    assert labels[-1] == measured
    assert viewer.status.currentMessage() == f"ruler: {measured}"
    assert viewer.canvas._ruler_text.textItem.toPlainText() == measured
    assert viewer.canvas.state.window == WindowPreset(2000, 4000, name=viewer.canvas.state.window.name)
    press(qtbot, viewer, Qt.Key.Key_Delete)
    assert viewer.canvas.state.ruler is None
    assert viewer.status.currentMessage() == ""  # a removed ruler's length is not left in the status bar


def test_ruler_says_at_detector_for_imager_pixel_spacing(qtbot, viewer, detector_study):
    open_and_wait(qtbot, viewer, detector_study)
    with qtbot.waitSignal(viewer.canvas.ruler_changed) as blocker:
        viewer.canvas.state.ruler = Ruler(0, 0, 0, 100)
    assert blocker.args == [f"50.0 mm at detector ({DOUBT_TEXT})"]  # a small synthetic film


def test_next_and_previous_study_with_arrow_keys(qtbot, viewer, band_study, detector_study):
    open_and_wait(qtbot, viewer, band_study, detector_study)
    assert viewer.canvas.image.meta.path.name == "bands.dcm"
    with qtbot.waitSignal(viewer.session.current_ready):
        press(qtbot, viewer, Qt.Key.Key_Right)
    assert viewer.canvas.image.meta.path.name == "detector.dcm"
    assert viewer.worklist.current == highlighted(viewer) == 1
    press(qtbot, viewer, Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: viewer.canvas.image is not None and viewer.canvas.image.meta.path.name == "bands.dcm")
    press(qtbot, viewer, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: viewer.worklist.current == highlighted(viewer) == 1)


def test_broken_file_shows_its_message_and_the_good_one_stays_usable(qtbot, viewer, band_study, broken_study):
    open_and_wait(qtbot, viewer, band_study, broken_study)
    model = viewer.worklist.model
    rows = {row.path.name: row.study for row in model.rows}
    bad = rows["broken.dcm"]
    message = viewer.session.errors[bad]
    assert message.startswith(str(broken_study)) and "not DICOM" in message
    problem = message.removeprefix(f"{broken_study}: ")
    # The row names the file (its whole path in the tooltip) and says why it failed.
    assert model.rows[bad].status == "failed: " + problem
    assert model.index(bad, model.column("File")).data(Qt.ItemDataRole.ToolTipRole) == str(broken_study)
    assert model.index(bad, model.column("Status")).data(Qt.ItemDataRole.ToolTipRole) == problem
    click_study(qtbot, viewer, bad)
    assert viewer.canvas.image is None
    assert "broken.dcm" in viewer.status.currentMessage()
    assert "broken.dcm" in viewer.canvas._message.textItem.toPlainText()
    with qtbot.waitSignal(viewer.session.current_ready):
        click_study(qtbot, viewer, rows["bands.dcm"])
    press(qtbot, viewer, Qt.Key.Key_I)
    np.testing.assert_array_equal(viewer.canvas.displayed_image(), expected_display(2000, 4000, invert=True))


def test_drop_opens_files_and_they_become_recent(qtbot, viewer, band_study, tmp_path):
    second = write_dicom(tmp_path / "second.dcm", band_pixels())
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(second))])
    drop = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(viewer.session.idle, timeout=15000):
        viewer.dropEvent(drop)
    assert [row.path.name for row in viewer.worklist.model.rows] == ["second.dcm"]
    assert viewer.recent_paths() == [str(second.resolve())]
    open_and_wait(qtbot, viewer, band_study)
    assert viewer.recent_paths() == [str(band_study.resolve()), str(second.resolve())]
    assert [a.text() for a in viewer.recent_menu.actions()] == viewer.recent_paths()


def test_space_drag_pans(qtbot, viewer, band_study):
    open_and_wait(qtbot, viewer, band_study)
    viewer.canvas.setFocus()
    before = image_to_widget(viewer, 100, 60)
    qtbot.keyPress(viewer.canvas, Qt.Key.Key_Space)
    drag(viewer.canvas.viewport(), before, before + QPointF(30, 0))
    qtbot.keyRelease(viewer.canvas, Qt.Key.Key_Space)
    assert image_to_widget(viewer, 100, 60).x() - before.x() == pytest.approx(30)
    assert viewer.canvas.state.window.width == 4000


def test_status_bar_reports_pixel_value_and_mm_under_the_cursor(qtbot, viewer, band_study):
    open_and_wait(qtbot, viewer, band_study)
    point = image_to_widget(viewer, 160.5, 20.5)  # pixel row 20, column 160, in the 3500 band
    scene_point = viewer.canvas.mapToScene(QPoint(int(point.x()), int(point.y())))
    with qtbot.waitSignal(viewer.canvas.probe_changed) as blocker:
        viewer.canvas.scene().sigMouseMoved.emit(scene_point)
    probe = blocker.args[0]
    assert (probe.row, probe.column, probe.modality_value) == (20, 160, 3500)
    assert "x 160  y 20 px" in viewer.status.position.text()
    assert "32.1, 4.1 mm" in viewer.status.position.text()
    assert "value 3500" in viewer.status.value.text()
    QApplication.processEvents()
    # Issue 20: the cursor leaving the film must not leave the last pixel's figures behind.
    QApplication.sendEvent(viewer.canvas, QEvent(QEvent.Type.Leave))
    assert viewer.status.position.text() == "" and viewer.status.value.text() == ""


def test_status_bar_reports_the_shown_layers_map_values_under_the_cursor(qtbot, no_models, viewer, band_study):
    open_and_wait(qtbot, viewer, band_study)
    cam = np.zeros(viewer.canvas.image.pixels.shape, np.float32)
    cam[10:40, 150:170] = 0.0731
    viewer.analysis.result_ready.emit(viewer.analysis.study, "maps", ("pneumonia-kermany", 1), {"gradcam": cam})
    point = image_to_widget(viewer, 160.5, 20.5)  # pixel row 20, column 160: inside the map's block
    viewer.canvas.scene().sigMouseMoved.emit(viewer.canvas.mapToScene(QPoint(int(point.x()), int(point.y()))))
    assert viewer.status.layer_values.text() == "Grad-CAM 0.0731"
    viewer.layers.toggle_layers()
    viewer.canvas.scene().sigMouseMoved.emit(viewer.canvas.mapToScene(QPoint(int(point.x()), int(point.y()))))
    assert viewer.status.layer_values.text() == ""


def test_8_bit_study_windows_through_the_colour_table_then_a_12_bit_one_renders_plainly(
    qtbot, viewer, band_study, tmp_path
):
    png = tmp_path / "a_bands8.png"  # listed before bands.dcm
    PilImage.fromarray((band_pixels() // 16).astype(np.uint8)).save(png)  # 31, 93, 156, 218
    open_and_wait(qtbot, viewer, png, band_study)
    assert viewer.canvas._indexed.indices.dtype == np.uint8
    state = viewer.canvas.state
    state.window = WindowPreset(125, 100)
    expected = np.rint(apply_window(band_pixels() // 16, 125, 100) * 255).astype(np.uint8)
    np.testing.assert_array_equal(viewer.canvas.displayed_image(), expected)
    assert rendered_band_greys(viewer) == [int(v) for v in expected[0, 25::50]]
    press(qtbot, viewer, Qt.Key.Key_I)
    assert rendered_band_greys(viewer) == [255 - int(v) for v in expected[0, 25::50]]
    with qtbot.waitSignal(viewer.session.current_ready):
        press(qtbot, viewer, Qt.Key.Key_Right)
    assert rendered_band_greys(viewer) == [int(v) for v in expected_display(2000, 4000)[0, 25::50]]


def test_overlays_turn_with_the_image_and_can_be_removed(qtbot, viewer, band_study):
    open_and_wait(qtbot, viewer, band_study)
    overlay = pg.ImageItem(np.zeros((ROWS, COLUMNS), np.uint8), axisOrder="row-major")
    viewer.canvas.add_overlay(overlay, z=10)
    assert overlay.zValue() == 10 and overlay.zValue() > viewer.canvas.base_item.zValue()
    press(qtbot, viewer, Qt.Key.Key_BracketRight)
    press(qtbot, viewer, Qt.Key.Key_H)
    corner = QPointF(COLUMNS, ROWS)
    assert overlay.sceneTransform().map(corner) == viewer.canvas.base_item.sceneTransform().map(corner)
    viewer.canvas.remove_overlay(overlay)
    assert overlay.scene() is None and overlay.parentItem() is None


def test_voi_lut_study_starts_with_its_lut_and_a_drag_switches_to_a_window(qtbot, viewer, tmp_path):
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 12]
    # A falling table, so it is plain to see that the LUT and not a window is applied.
    item.LUTData = np.arange(4095, -1, -1, dtype="<u2").tobytes()
    item.LUTExplanation = "falling"
    path = write_dicom(tmp_path / "lut.dcm", band_pixels(), VOILUTSequence=[item])
    open_and_wait(qtbot, viewer, path)
    state = viewer.canvas.state
    assert state.voi_lut_index == 0
    expected = np.rint((4095 - band_pixels()) / 4095 * 255).astype(np.uint8)
    np.testing.assert_array_equal(viewer.canvas.displayed_image(), expected)
    assert viewer.status.window.text() == "VOI LUT 1 (falling)"
    start = image_to_widget(viewer, 100, 60)
    drag(viewer.canvas.viewport(), start, start + QPointF(0, 30))
    assert state.voi_lut_index is None
    assert state.window.width == BAND_VALUES[-1] - BAND_VALUES[0] + 1  # the data range, then moved down
    press(qtbot, viewer, Qt.Key.Key_1)
    assert state.voi_lut_index == 0


def test_closing_the_viewer_closes_its_compare_window(qtbot, viewer):
    viewer.layers.open_side_by_side()
    compare = viewer.layers.compare_window
    qtbot.addWidget(compare)
    qtbot.waitExposed(compare)
    viewer.close()
    assert not compare.isVisible()
    assert viewer.layers.overlays._targets == [viewer.layers.overlays._on_canvas]  # its panes detached


def test_the_layer_controls_fit_their_dock_at_the_default_size(viewer):
    """Every layer control is in reach: the dock is as wide as the controls need, so the panel
    neither clips them nor needs a sideways scroll."""
    scroll = viewer.layer_panel.scroll
    needed = scroll.widget().minimumSizeHint().width()
    assert scroll.viewport().width() >= needed
    assert not scroll.horizontalScrollBar().isVisible()
    flicker = viewer.layer_panel.flicker
    right_edge = flicker.mapTo(scroll.viewport(), flicker.rect().topRight()).x()
    assert right_edge < scroll.viewport().width()
