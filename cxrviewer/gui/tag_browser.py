"""The DICOM tag browser: every tag of the current study, filterable by tag, name or value."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Tag", "Name", "VR", "Value")
NAME_SHARE_MAX = 0.35  # of the table's width: a long tag name is cut rather than push the values out


class TagBrowser(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.filter = QLineEdit(placeholderText="Filter tags (tag, name or value)")
        self.filter.setClearButtonEnabled(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        # The values fill what the panel leaves them and are cut with "…" (the whole value in the
        # tooltip), so no value runs off the panel's edge (issue 20).
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setWordWrap(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter)
        layout.addWidget(self.table)
        self.filter.textChanged.connect(self._apply_filter)

    def show_tags(self, tags: tuple[tuple[str, str, str, str], ...]) -> None:
        """tags: (tag, name, VR, value) rows as `ImageMeta.tags` lists them."""
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(tags))
        for row, fields in enumerate(tags):
            for column, text in enumerate(fields):
                item = QTableWidgetItem(text)
                if column in (1, 3):
                    item.setToolTip(text)
                self.table.setItem(row, column, item)
        for column in range(3):
            self.table.resizeColumnToContents(column)
        self._name_width = self.table.columnWidth(1)
        self._fit_name_column()
        self.table.setUpdatesEnabled(True)
        self._apply_filter(self.filter.text())

    def resizeEvent(self, event):  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit_name_column()

    def _fit_name_column(self) -> None:
        width = getattr(self, "_name_width", 0)
        if width:
            self.table.setColumnWidth(1, min(width, int(NAME_SHARE_MAX * self.table.viewport().width())))

    def visible_rows(self) -> int:
        return sum(not self.table.isRowHidden(row) for row in range(self.table.rowCount()))

    def _apply_filter(self, text: str) -> None:
        # Spaces are ignored, so a DICOM keyword ("PixelSpacing") finds its name ("Pixel Spacing").
        needle = "".join(text.lower().split())
        for row in range(self.table.rowCount()):
            cells = (self.table.item(row, column) for column in range(len(COLUMNS)))
            texts = ("".join(cell.text().lower().split()) for cell in cells if cell is not None)
            match = not needle or any(needle in cell_text for cell_text in texts)
            self.table.setRowHidden(row, not match)
