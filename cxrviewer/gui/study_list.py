"""The study list: one row per opened file with its name, modality, size and load status."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

COLUMNS = ("File", "Modality", "Size", "Status")
FAILED_COLOUR = QColor(230, 80, 80)


class StudyList(QTableWidget):
    """Rows are studies in the order opened; the row number is the study's id everywhere in the GUI."""

    study_selected = Signal(int)

    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        # The status column takes what is left, so a long error is elided, not scrolled out of sight;
        # the whole message is in its tooltip and in the status bar.
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(0, 140)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setWordWrap(False)
        # Arrow keys step through studies from anywhere in the window, so the list must not eat them.
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.currentCellChanged.connect(self._on_current_changed)

    def add_study(self, path: Path) -> int:
        row = self.rowCount()
        self.insertRow(row)
        name = QTableWidgetItem(path.name)
        name.setToolTip(str(path))
        self.setItem(row, 0, name)
        for column in (1, 2):
            self.setItem(row, column, QTableWidgetItem(""))
        self.setItem(row, 3, QTableWidgetItem(""))
        self.set_loading(row)
        return row

    def set_loading(self, row: int) -> None:
        self._set_status(row, "loading…", tooltip="", failed=False)

    def set_loaded(self, row: int, modality: str, size: str) -> None:
        self.item(row, 1).setText(modality)
        self.item(row, 2).setText(size)
        self._set_status(row, "ok", tooltip="", failed=False)

    def set_failed(self, row: int, message: str) -> None:
        """Show why the study failed; the row already names the file, so the status starts with the
        problem, and the whole message (path included) is the tooltip."""
        problem = message.removeprefix(f"{self.path(row)}: ")
        self._set_status(row, f"failed: {problem}", tooltip=message, failed=True)

    def status(self, row: int) -> str:
        return self.item(row, 3).text()

    def path(self, row: int) -> Path:
        return Path(self.item(row, 0).toolTip())

    def select(self, row: int) -> None:
        if 0 <= row < self.rowCount():
            self.setCurrentCell(row, 0)

    def step(self, delta: int) -> None:
        """Select the next (delta > 0) or previous study, stopping at the ends."""
        if self.rowCount():
            self.select(min(max(self.currentRow() + delta, 0), self.rowCount() - 1))

    def _set_status(self, row: int, text: str, *, tooltip: str, failed: bool) -> None:
        for column in range(len(COLUMNS)):
            item = self.item(row, column)
            item.setForeground(FAILED_COLOUR if failed else self.palette().text().color())
            if column:
                item.setToolTip(tooltip)
        self.item(row, 3).setText(text)

    def _on_current_changed(self, row: int, _column: int, previous_row: int, _previous_column: int) -> None:
        if row >= 0 and row != previous_row:
            self.study_selected.emit(row)
