"""File → Open recent: the files and folders opened last, newest first, kept in the settings so
they outlive the session. Its own module so the main window only places it and feeds it what opens."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu, QWidget

MAX_RECENT = 10
RECENT_KEY = "recent"


class RecentMenu(QMenu):
    """One entry per recent path; choosing one opens it through `open_paths` (which remembers it
    again, so it moves to the top)."""

    def __init__(self, settings: QSettings, open_paths: Callable[[list[str]], None], parent: QWidget | None = None):
        super().__init__("Open &recent", parent)
        self._settings, self._open_paths = settings, open_paths
        self._fill()

    def paths(self) -> list[str]:
        """Resolved paths, newest first."""
        value = self._settings.value(RECENT_KEY, [])
        # QSettings gives a one-entry list back as a bare string from an INI file.
        return [value] if isinstance(value, str) else list(value or [])

    def last_folder(self) -> str:
        """Where an open dialog starts: the folder of the newest entry, "" without one."""
        recent = self.paths()
        return str(Path(recent[0]).parent) if recent else ""

    def remember(self, paths: list[Path]) -> None:
        recent = [str(p.resolve()) for p in paths]
        recent += [p for p in self.paths() if p not in recent]
        self._settings.setValue(RECENT_KEY, recent[:MAX_RECENT])
        self._fill()

    def _fill(self) -> None:
        self.clear()
        for path in self.paths():
            self.addAction(path, lambda p=path: self._open_paths([p]))
        self.setEnabled(bool(self.paths()))
