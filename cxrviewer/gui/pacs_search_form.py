"""The PACS dialog's search fields, turned into the study-level query the command line also sends
(`net.query.StudyQuery`): patient name (begins with, or * ? wildcards), patient ID, a study date range,
CR and/or DX, accession number."""

from __future__ import annotations

from PySide6.QtCore import QDate
from PySide6.QtWidgets import QCheckBox, QDateEdit, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QWidget

from cxrviewer.core.errors import CxrError
from cxrviewer.net.query import CHEST_MODALITIES, StudyQuery

DATE_FORMAT = "yyyy-MM-dd"


class SearchFieldError(CxrError):
    """The fields do not make a query (no modality ticked, a date range that ends before it starts)."""


def name_pattern(text: str) -> str:
    """What the reader typed as a patient name, as a DICOM match: a name without wildcards matches the
    names that begin with it."""
    text = text.strip()
    return text if not text or any(c in text for c in "*?") else f"{text}*"


def _date_edit() -> QDateEdit:
    edit = QDateEdit(QDate.currentDate())
    edit.setCalendarPopup(True)
    edit.setDisplayFormat(DATE_FORMAT)
    return edit


class StudySearchForm(QWidget):
    """The fields; `query()` reads them."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.patient_name = QLineEdit()
        self.patient_name.setPlaceholderText("begins with; * and ? are wildcards")
        self.patient_id = QLineEdit()
        self.accession = QLineEdit()
        self.use_dates = QCheckBox("Study date from")
        self.date_from, self.date_to = _date_edit(), _date_edit()
        self.use_dates.toggled.connect(self._enable_dates)
        self.modalities = {name: QCheckBox(name) for name in CHEST_MODALITIES}
        for box in self.modalities.values():
            box.setChecked(True)

        dates = QHBoxLayout()
        dates.setContentsMargins(0, 0, 0, 0)
        for widget in (self.use_dates, self.date_from, QLabel("to"), self.date_to):
            dates.addWidget(widget)
        dates.addStretch(1)
        modalities = QHBoxLayout()
        modalities.setContentsMargins(0, 0, 0, 0)
        for box in self.modalities.values():
            modalities.addWidget(box)
        modalities.addStretch(1)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(QLabel("Patient name"), 0, 0)
        grid.addWidget(self.patient_name, 0, 1)
        grid.addWidget(QLabel("Patient ID"), 0, 2)
        grid.addWidget(self.patient_id, 0, 3)
        grid.addLayout(dates, 1, 0, 1, 2)
        grid.addWidget(QLabel("Accession"), 1, 2)
        grid.addWidget(self.accession, 1, 3)
        grid.addWidget(QLabel("Modality"), 2, 0)
        grid.addLayout(modalities, 2, 1)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self._enable_dates(False)

    def _enable_dates(self, enabled: bool) -> None:
        self.date_from.setEnabled(enabled)
        self.date_to.setEnabled(enabled)

    def set_dates(self, first: QDate, last: QDate) -> None:
        """Search from `first` to `last` (both included)."""
        self.use_dates.setChecked(True)
        self.date_from.setDate(first)
        self.date_to.setDate(last)

    def query(self) -> StudyQuery:
        """The query the fields say; SearchFieldError saying what to change when they do not make one."""
        modalities = tuple(name for name, box in self.modalities.items() if box.isChecked())
        if not modalities:
            raise SearchFieldError(f"tick {' or '.join(CHEST_MODALITIES)} (or both) to search")
        dates = ""
        if self.use_dates.isChecked():
            first, last = self.date_from.date(), self.date_to.date()
            if last < first:
                raise SearchFieldError(f"the study dates end ({last.toString(DATE_FORMAT)}) before they start "
                                       f"({first.toString(DATE_FORMAT)})")
            dates = f"{first.toString('yyyyMMdd')}-{last.toString('yyyyMMdd')}"
        return StudyQuery(patient_id=self.patient_id.text().strip(), patient_name=name_pattern(self.patient_name.text()),
                          dates=dates, modalities=modalities, accession=self.accession.text().strip())
