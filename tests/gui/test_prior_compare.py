"""Issue 20, item 9: the prior comparison in the real window. C splits the main view into the shown
study and the same patient's latest earlier study (by Patient ID and StudyDate), each headed by its
date; a window drag, the wheel or a pan on either film moves the other; flips stay each film's own;
C again returns to one view; without a prior the status bar says why."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.uid import generate_uid
from PySide6.QtCore import QPointF, Qt
from viewer_support import BAND_VALUES, band_pixels, drag, open_and_wait, wheel, write_dicom

from cxrviewer.core.display.voi import apply_window
from cxrviewer.core.priors import NO_PRIOR
from cxrviewer.core.view_link import fit_zoom
from cxrviewer.core.viewstate import DRAG_PIXELS_PER_RANGE

# The prior: four horizontal bands of 40 rows (the current study's bands are vertical), 160 x 100.
PRIOR_VALUES = (3000, 2200, 1400, 600)
PRIOR_ROWS, PRIOR_COLUMNS = 160, 100


def prior_pixels() -> np.ndarray:
    return np.repeat(np.array(PRIOR_VALUES, dtype=np.uint16), PRIOR_ROWS // 4)[:, None].repeat(PRIOR_COLUMNS, axis=1)


@pytest.fixture
def patient_folder(tmp_path):
    """One patient's current (2024-03-15), prior (2021-06-10) and older (2019-01-01) studies, and
    another patient's study of 2023 that must not be taken for a prior."""
    folder = tmp_path / "studies"
    folder.mkdir()
    files = {}
    for name, pixels, patient, date, window in (
        ("a_current", band_pixels(), "P1", "20240315", (2000, 4000)),
        ("b_prior", prior_pixels(), "P1", "20210610", (1800, 3000)),
        ("c_older", np.full((80, 80), 1000, np.uint16), "P1", "20190101", (1000, 2000)),
        ("d_other", np.full((80, 80), 3000, np.uint16), "P2", "20230101", (1000, 2000)),
    ):
        files[name] = write_dicom(folder / f"{name}.dcm", pixels, PatientID=patient, PatientName="DOE^JANE",
                                  StudyDate=date, StudyInstanceUID=generate_uid(),
                                  WindowCenter=window[0], WindowWidth=window[1])
    return folder, files


def study_of(window, path) -> int:
    return window.session.paths.index(path)


def show(qtbot, window, path) -> None:
    study = study_of(window, path)
    window.worklist.study_activated.emit(study)
    qtbot.waitUntil(lambda: window.canvas.image is not None and window.canvas.image.meta.path == path, timeout=10000)


def press_c_and_wait(qtbot, window) -> None:
    qtbot.keyClick(window.canvas, Qt.Key.Key_C)
    qtbot.waitUntil(lambda: window.prior_compare.link is not None, timeout=10000)


def widget_point(canvas, x: float, y: float) -> QPointF:
    """Where image point (x, y) of `canvas`'s film is in its viewport's pixels."""
    state = canvas.state
    view_x, view_y = state.image_to_view(x, y)
    width, height = canvas.viewport_size()
    cx, cy = state.center
    return QPointF(width / 2 + (view_x - cx) * state.zoom, height / 2 + (view_y - cy) * state.zoom)


def screen_greys(canvas, points) -> list[int]:
    """Grey on screen at image points [(x, y)] of the canvas's film (corner text hidden for the grab)."""
    canvas.film_text.set_enabled(False)
    picture = canvas.grab().toImage()
    canvas.film_text.set_enabled(True)
    ratio = picture.devicePixelRatio()
    out = []
    for x, y in points:
        point = widget_point(canvas, x, y)
        out.append(picture.pixelColor(int(point.x() * ratio), int(point.y() * ratio)).red())
    return out


def expected_greys(values, window) -> list[int]:
    shown = apply_window(np.array(values, np.float32), window.center, window.width)
    return [int(v) for v in np.rint(shown * 255)]


PRIOR_BAND_MIDDLES = [(PRIOR_COLUMNS / 2, band * 40 + 20) for band in range(4)]
CURRENT_BAND_MIDDLES = [(band * 50 + 25, 60) for band in range(4)]


def test_c_shows_the_latest_earlier_study_of_the_patient_beside_the_current_one(qtbot, no_models, viewer,
                                                                                 patient_folder):
    folder, files = patient_folder
    open_and_wait(qtbot, viewer, folder)
    show(qtbot, viewer, files["a_current"])
    press_c_and_wait(qtbot, viewer)
    compare = viewer.prior_compare
    prior_canvas = compare.prior_canvas
    assert compare.view.split and prior_canvas.isVisible()
    assert prior_canvas.image.meta.path == files["b_prior"]  # not the 2019 study, not the other patient's 2023
    assert viewer.canvas.image.meta.path == files["a_current"]
    current_header, prior_header = (header.text() for header in compare.view.headers)
    assert "CURRENT" in current_header and "2024-03-15" in current_header
    assert "PRIOR" in prior_header and "2021-06-10" in prior_header and "2 years 9 months earlier" in prior_header
    assert "same Patient ID P1" in prior_header
    assert prior_canvas.film_text.caption.text() == "PRIOR 2021-06-10" and prior_canvas.film_text.caption.isVisible()
    assert "prior: 2021-06-10, same Patient ID P1" in viewer.status.currentMessage()
    # Side by side, each half the main view, each film fitted to its pane.
    assert viewer.canvas.width() == pytest.approx(prior_canvas.width(), abs=2)
    assert viewer.canvas.state.fitted and prior_canvas.state.fitted
    assert prior_canvas.state.zoom == pytest.approx(fit_zoom(prior_canvas.state, prior_canvas.viewport_size()))
    # What is drawn: the prior's horizontal bands under its own window, the current's vertical ones.
    assert screen_greys(prior_canvas, PRIOR_BAND_MIDDLES) == expected_greys(PRIOR_VALUES, prior_canvas.state.window)
    assert screen_greys(viewer.canvas, CURRENT_BAND_MIDDLES) == expected_greys(BAND_VALUES, viewer.canvas.state.window)
    assert prior_canvas.state.window.center == 1800 and viewer.canvas.state.window.center == 2000
    # C again: one view, the current study fitted to the whole of it.
    qtbot.keyClick(viewer.canvas, Qt.Key.Key_C)
    assert not compare.view.split and not prior_canvas.isVisible() and compare.link is None
    assert not any(header.isVisible() for header in compare.view.headers)
    qtbot.waitUntil(lambda: viewer.canvas.width() >= compare.view.width() - 1, timeout=5000)
    assert viewer.canvas.state.zoom == pytest.approx(fit_zoom(viewer.canvas.state, viewer.canvas.viewport_size()))


def test_window_zoom_and_pan_on_either_film_move_the_other(qtbot, no_models, viewer, patient_folder):
    folder, files = patient_folder
    open_and_wait(qtbot, viewer, folder)
    show(qtbot, viewer, files["a_current"])
    press_c_and_wait(qtbot, viewer)
    prior_canvas = viewer.prior_compare.prior_canvas
    current, prior = viewer.canvas.state, prior_canvas.state
    current_range, prior_range = BAND_VALUES[-1] - BAND_VALUES[0], PRIOR_VALUES[0] - PRIOR_VALUES[-1]
    # A window drag on the prior: both films change, each by its own value range per drag pixel.
    start = widget_point(prior_canvas, 50, 80)
    drag(prior_canvas.viewport(), start, start + QPointF(-90, 60))
    assert prior.window.width == pytest.approx(3000 - 90 * prior_range / DRAG_PIXELS_PER_RANGE)
    assert prior.window.center == pytest.approx(1800 + 60 * prior_range / DRAG_PIXELS_PER_RANGE)
    assert current.window.width == pytest.approx(4000 - 90 * current_range / DRAG_PIXELS_PER_RANGE)
    assert current.window.center == pytest.approx(2000 + 60 * current_range / DRAG_PIXELS_PER_RANGE)
    assert screen_greys(viewer.canvas, CURRENT_BAND_MIDDLES) == expected_greys(BAND_VALUES, current.window)
    assert screen_greys(prior_canvas, PRIOR_BAND_MIDDLES) == expected_greys(PRIOR_VALUES, prior.window)
    # The wheel over the current film zooms both about the same fraction of each film.
    wheel(viewer.canvas.viewport(), widget_point(viewer.canvas, 150, 30), 4)
    relative = current.zoom / fit_zoom(current, viewer.canvas.viewport_size())
    assert relative == pytest.approx(2.0)
    assert prior.zoom / fit_zoom(prior, prior_canvas.viewport_size()) == pytest.approx(relative)
    for state, (width, height) in ((prior, (PRIOR_COLUMNS, PRIOR_ROWS)), (current, (200, 120))):
        assert (state.center[0] / width, state.center[1] / height) == pytest.approx(
            (current.center[0] / 200, current.center[1] / 120))
    # The same fraction of each film is at the middle of its pane: a right-drag pan on the prior
    # moves the current film too.
    drag(prior_canvas.viewport(), QPointF(200, 200), QPointF(240, 170), button=Qt.MouseButton.RightButton)
    assert prior.center[0] / PRIOR_COLUMNS == pytest.approx(current.center[0] / 200)
    assert prior.center[1] / PRIOR_ROWS == pytest.approx(current.center[1] / 120)
    assert not current.fitted and not prior.fitted
    # Hiding the panels widens both panes: the portrait prior's fit and the landscape current's
    # change differently, and the prior keeps the current's relative zoom.
    width = viewer.canvas.width()
    qtbot.keyClick(viewer.canvas, Qt.Key.Key_P)
    qtbot.waitUntil(lambda: viewer.canvas.width() > width + 100, timeout=5000)
    fits = fit_zoom(current, viewer.canvas.viewport_size()), fit_zoom(prior, prior_canvas.viewport_size())
    assert prior.zoom / fits[1] == pytest.approx(current.zoom / fits[0])
    # The fit key with the prior pane active fits both again.
    qtbot.keyClick(viewer.canvas, Qt.Key.Key_Equal)
    assert current.fitted and prior.fitted


def test_flips_are_each_films_own_and_act_on_the_pane_clicked_last(qtbot, no_models, viewer, patient_folder):
    folder, files = patient_folder
    open_and_wait(qtbot, viewer, folder)
    show(qtbot, viewer, files["a_current"])
    press_c_and_wait(qtbot, viewer)
    compare = viewer.prior_compare
    prior_canvas = compare.prior_canvas
    qtbot.mouseClick(prior_canvas.viewport(), Qt.MouseButton.LeftButton, pos=prior_canvas.viewport().rect().center())
    assert compare.view.active == 1 and "#ffd24d" in compare.view.headers[1].styleSheet()
    qtbot.keyClick(viewer.canvas, Qt.Key.Key_V)  # flip top-bottom: the prior's bands turn over on screen
    assert prior_canvas.state.flip_v and not viewer.canvas.state.flip_v
    flipped = screen_greys(prior_canvas, PRIOR_BAND_MIDDLES)  # image points: the same film pixels
    assert flipped == expected_greys(PRIOR_VALUES, prior_canvas.state.window)
    top = prior_canvas.grab().toImage().pixelColor(prior_canvas.viewport().width() // 2,
                                                   int(widget_point(prior_canvas, 50, 155).y())).red()
    assert top == expected_greys(PRIOR_VALUES, prior_canvas.state.window)[-1]
    assert widget_point(prior_canvas, 50, 155).y() < widget_point(prior_canvas, 50, 5).y()
    qtbot.mouseClick(viewer.canvas.viewport(), Qt.MouseButton.LeftButton, pos=viewer.canvas.viewport().rect().center())
    qtbot.keyClick(viewer.canvas, Qt.Key.Key_H)
    assert viewer.canvas.state.flip_h and not prior_canvas.state.flip_h


def test_showing_another_study_follows_its_prior_and_ends_without_one(qtbot, no_models, viewer, patient_folder):
    folder, files = patient_folder
    open_and_wait(qtbot, viewer, folder)
    show(qtbot, viewer, files["a_current"])
    press_c_and_wait(qtbot, viewer)
    compare = viewer.prior_compare
    show(qtbot, viewer, files["b_prior"])  # the 2021 study: its prior is the 2019 one
    assert compare.prior_canvas.film_text.caption.text() in ("", "PRIOR 2019-01-01")  # never the last prior's
    qtbot.waitUntil(lambda: compare.link is not None, timeout=10000)
    assert compare.prior_canvas.image.meta.path == files["c_older"]
    assert "2019-01-01" in compare.view.headers[1].text() and "2021-06-10" in compare.view.headers[0].text()
    show(qtbot, viewer, files["c_older"])  # the oldest: no prior, one view and the reason
    assert not compare.view.split and not compare.on
    assert viewer.status.currentMessage() == f"Compare with prior: {NO_PRIOR}"


def test_no_prior_says_why_in_the_status_bar(qtbot, no_models, viewer, patient_folder, tmp_path):
    folder, files = patient_folder
    open_and_wait(qtbot, viewer, files["c_older"], files["d_other"])
    show(qtbot, viewer, files["d_other"])
    qtbot.keyClick(viewer.canvas, Qt.Key.Key_C)
    assert viewer.status.currentMessage() == f"Compare with prior: {NO_PRIOR}"
    assert not viewer.prior_compare.view.split and not viewer.prior_compare.on
    # Without a study date the order of two films is not guessed.
    undated = write_dicom(tmp_path / "undated.dcm", band_pixels(), PatientID="P1", StudyInstanceUID=generate_uid())
    open_and_wait(qtbot, viewer, undated)
    show(qtbot, viewer, undated)
    qtbot.keyClick(viewer.canvas, Qt.Key.Key_C)
    assert viewer.status.currentMessage() == (
        "Compare with prior: this study has no study date: which film is earlier is not known")
    assert not viewer.prior_compare.view.split


def test_the_help_and_the_view_menu_list_the_comparison(viewer):
    from cxrviewer.gui.shortcuts import help_html

    action = viewer.actions_by_name["compare_prior"]
    assert action in viewer.view_menu.actions() and action.shortcut().toString() == "C"
    assert "Compare with prior" in help_html()
