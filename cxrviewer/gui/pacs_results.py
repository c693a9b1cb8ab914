"""The PACS dialog's results: one row per study found (patient, ID, date, modalities, accession,
description, number of instances) and, once a retrieval has run, its outcome for that study."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from cxrviewer.core.film_text import display_date, display_name
from cxrviewer.net.query import StudyMatch

COLUMNS = ("Patient", "Patient ID", "Study date", "Modality", "Accession", "Description", "Instances", "Retrieved")
OUTCOME = COLUMNS.index("Retrieved")
UID_ROLE = Qt.ItemDataRole.UserRole
FAILED = QColor(170, 30, 30)
RETRIEVED = QColor(20, 110, 40)
SORT_ARROW_PX = 14


def study_cells(match: StudyMatch) -> tuple[str, ...]:
    """The texts of a study's row, outcome column left empty."""
    return (display_name(match.patient_name), match.patient_id, display_date(match.study_date),
            "/".join(match.modalities), match.accession, match.description,
            "" if match.instances is None else str(match.instances), "")


class StudyTable(QTableWidget):
    """Rows of StudyMatch, newest first and sortable by any column; several can be selected."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(22)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.horizontalHeader().setStretchLastSection(True)
        # Newest first until the reader sorts by another column (undated studies last).
        self.horizontalHeader().setSortIndicator(COLUMNS.index("Study date"), Qt.SortOrder.DescendingOrder)
        self._matches: dict[str, StudyMatch] = {}

    def show_matches(self, matches: list[StudyMatch]) -> None:
        self.setSortingEnabled(False)  # rows would move while they are filled
        self.clearContents()
        self.setRowCount(len(matches))
        self._matches = {m.study_uid: m for m in matches}
        for row, match in enumerate(matches):
            for column, text in enumerate(study_cells(match)):
                item = QTableWidgetItem(text)
                if column == COLUMNS.index("Instances") and match.instances is not None:
                    item.setData(Qt.ItemDataRole.DisplayRole, match.instances)  # sorts as a number
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setData(UID_ROLE, match.study_uid)
                item.setToolTip(f"study {match.study_uid}")
                self.setItem(row, column, item)
        self.resizeColumnsToContents()
        for column in range(len(COLUMNS) - 1):  # room for the sort arrow, which the fit leaves out; the last stretches
            self.setColumnWidth(column, self.columnWidth(column) + SORT_ARROW_PX)
        self.setSortingEnabled(True)

    def clear_matches(self) -> None:
        self.show_matches([])

    def study_uid(self, row: int) -> str:
        return str(self.item(row, 0).data(UID_ROLE))

    def row_of(self, study_uid: str) -> int | None:
        return next((row for row in range(self.rowCount()) if self.study_uid(row) == study_uid), None)

    def selected(self) -> list[StudyMatch]:
        """The selected studies, top to bottom as shown."""
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        return [self._matches[self.study_uid(row)] for row in rows]

    def cells(self, row: int) -> list[str]:
        return [self.item(row, column).text() for column in range(self.columnCount())]

    def set_outcome(self, study_uid: str, text: str, *, failed: bool, detail: str = "") -> None:
        """Show a retrieval's outcome in the study's row, if the row is still shown."""
        row = self.row_of(study_uid)
        if row is None:
            return
        item = self.item(row, OUTCOME)
        item.setText(text)
        item.setForeground(QBrush(FAILED if failed else RETRIEVED))
        item.setToolTip(detail or text)
