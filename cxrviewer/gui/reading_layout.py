"""The window's layout for reading: every panel hidden at a key, a full-screen reading mode with the
film alone, a View → Panels menu to show or hide each panel, and the layout kept between sessions.

A reader gives the film the screen (issue 20: the image had about 63 % of a maximised window):
- "Panels on/off" (P) hides every dock and, pressed again, brings back the ones that were shown;
- "Reading mode" (F11; Esc leaves it) goes full screen with the panels, menu and status bar hidden,
  and returns to exactly the window it left;
- the docks' places, sizes and visibility and the window's geometry are saved in the settings when
  the window closes and restored when it opens (never in reading mode: that is left first).
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu

GEOMETRY_KEY = "layout/geometry"
STATE_KEY = "layout/state"
STATE_VERSION = 1  # raise when the docks change so an old saved layout is not applied to new docks


class ReadingLayout:
    def __init__(self, window: QMainWindow, settings: QSettings):
        self.window, self.settings = window, settings
        self._hidden_docks: list[QDockWidget] = []  # the docks "Panels off" hid, to bring back
        self._before_reading: tuple[bool, bool, bool, list[QDockWidget]] | None = None

    def docks(self) -> list[QDockWidget]:
        return self.window.findChildren(QDockWidget)

    @property
    def reading(self) -> bool:
        return self._before_reading is not None

    # -- panels ----------------------------------------------------------------------------------
    def toggle_panels(self) -> None:
        shown = [dock for dock in self.docks() if dock.isVisible()]
        if shown:
            self._hidden_docks = shown
            for dock in shown:
                dock.hide()
        else:
            for dock in self._hidden_docks or self.docks():
                dock.show()
            self._hidden_docks = []

    def panels_menu(self, parent: QMenu) -> QMenu:
        """View → Panels: one checkable entry per dock (Qt's own toggle action keeps it in step)."""
        menu = parent.addMenu("&Panels")
        for dock in sorted(self.docks(), key=lambda d: d.windowTitle()):
            menu.addAction(dock.toggleViewAction())
        return menu

    # -- reading mode ------------------------------------------------------------------------------
    def toggle_reading_mode(self) -> None:
        if self.reading:
            self.leave_reading_mode()
        else:
            self.enter_reading_mode()

    def enter_reading_mode(self) -> None:
        window = self.window
        shown = [dock for dock in self.docks() if dock.isVisible()]
        self._before_reading = (window.isFullScreen(), window.menuBar().isVisible(),
                                window.statusBar().isVisible(), shown)
        for dock in shown:
            dock.hide()
        window.menuBar().hide()
        window.statusBar().hide()
        window.showFullScreen()

    def leave_reading_mode(self) -> None:
        if self._before_reading is None:
            return
        full_screen, menu, status, shown = self._before_reading
        self._before_reading = None
        window = self.window
        if not full_screen:
            window.showNormal()
        window.menuBar().setVisible(menu)
        window.statusBar().setVisible(status)
        for dock in shown:
            dock.show()

    # -- kept between sessions ---------------------------------------------------------------------
    def save(self) -> None:
        self.leave_reading_mode()
        self.settings.setValue(GEOMETRY_KEY, self.window.saveGeometry())
        self.settings.setValue(STATE_KEY, self.window.saveState(STATE_VERSION))

    def restore(self) -> bool:
        """Apply the saved layout, if any; False when there was none (or it was for other docks)."""
        geometry, state = self.settings.value(GEOMETRY_KEY), self.settings.value(STATE_KEY)
        if isinstance(geometry, QByteArray):
            self.window.restoreGeometry(geometry)
        return isinstance(state, QByteArray) and self.window.restoreState(state, STATE_VERSION)
