"""Issue 20, item 6: the film gets the screen: panels hidden at a key, a full-screen reading mode that
returns to the window it left, View → Panels toggles, and the layout kept between sessions."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from cxrviewer.gui.main_window import MainWindow


def shown_docks(window) -> set[str]:
    return {dock.windowTitle() for dock in window.findChildren(QDockWidget) if dock.isVisible()}


def test_panels_key_hides_every_panel_and_brings_back_the_shown_ones(viewer, qtbot):
    viewer.show()
    qtbot.waitExposed(viewer)
    before = shown_docks(viewer)
    assert {"Worklist", "Findings"} <= before
    viewer.actions_by_name["toggle_panels"].trigger()
    assert shown_docks(viewer) == set()
    qtbot.waitUntil(lambda: viewer.canvas.width() > 0.95 * viewer.width(), timeout=5000)  # the film gets the window
    viewer.actions_by_name["toggle_panels"].trigger()
    assert shown_docks(viewer) == before


def test_reading_mode_is_full_screen_with_the_film_alone_and_esc_returns(viewer, qtbot):
    viewer.show()
    qtbot.waitExposed(viewer)
    before = shown_docks(viewer)
    viewer.actions_by_name["reading_mode"].trigger()
    assert viewer.layout_keeper.reading and viewer.windowState() & Qt.WindowState.WindowFullScreen
    assert shown_docks(viewer) == set() and not viewer.menuBar().isVisible() and not viewer.statusBar().isVisible()
    qtbot.keyClick(viewer, Qt.Key.Key_Escape)
    assert not viewer.layout_keeper.reading and not viewer.windowState() & Qt.WindowState.WindowFullScreen
    assert shown_docks(viewer) == before and viewer.menuBar().isVisible() and viewer.statusBar().isVisible()


def test_view_menu_has_a_toggle_per_panel(viewer):
    panels = next(a.menu() for a in viewer.view_menu.actions() if a.menu() and a.text() == "&Panels")
    titles = {action.text() for action in panels.actions()}
    assert {"Worklist", "Findings", "Layers", "DICOM tags"} <= titles
    findings = next(a for a in panels.actions() if a.text() == "Findings")
    viewer.show()
    findings.trigger()
    assert "Findings" not in shown_docks(viewer)


def test_the_layout_is_kept_between_sessions(qtbot, settings):
    first = MainWindow(settings=settings)
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    tags = next(d for d in first.findChildren(QDockWidget) if d.windowTitle() == "DICOM tags")
    tags.setFloating(True)
    first.actions_by_name["reading_mode"].trigger()  # closing in reading mode saves the window it left
    first.close()
    second = MainWindow(settings=settings)
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    again = next(d for d in second.findChildren(QDockWidget) if d.windowTitle() == "DICOM tags")
    assert again.isFloating() and not second.windowState() & Qt.WindowState.WindowFullScreen
    assert "Findings" in shown_docks(second)
