"""The worklist's table model: one row per opened study, and the proxy that sorts it for triage.

A row holds the study's call in the triage column, its thumbnail, patient and study ids, one answer
per model, the gate's verdict, its status (loading, queued, analysing, done, failed with the reason)
and the reader's reading state (Viewed: was on screen; Reviewed: the reader marked it read, the time in
its tooltip; Flag; Note). Rows are appended in the order the session adds studies, so a source
row number is the study id.

The triage column comes first: the TB screening finding when a TB model is installed (the TB
classifier, else the TB lesion model), else each study's most urgent finding. Each answer cell, the
triage column's and every model's, shows the call as a colour beside its word and the figure as a
percentage (`core.triage_call`): greyed, in brackets, when it does not apply to the patient
(the gate, the card's population, a child kept out of TB triage), with the reason in its tooltip.
A study still being triaged or failed says so in the cell.

Each model's figure is `gui.worklist_rows.score_of`. Answer columns sort by urgency, most urgent
first: answers that apply before those that do not, abnormal before indeterminate before normal,
each by its figure.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor

from cxrviewer.analysis.pipeline import LESIONS_LABEL, SCREENING_LABEL
from cxrviewer.core.reading_words import CALL_COLOURS, CALL_RULE
from cxrviewer.core.triage_call import TriageCall, triage_call
from cxrviewer.gui.worklist_rows import ScoreColumn, StudyRow, swatch

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
CALL_ROLE = Qt.ItemDataRole.UserRole + 2  # an answer cell's call ("abnormal", ...), None without one
FAILED_COLOUR = QColor(230, 80, 80)
WITHHELD_COLOUR = QColor(150, 150, 150)
TRIAGE = "Triage"
TOP_FINDING = "Top finding"  # the triage column's title when no TB model is installed
FIXED_BEFORE = (TRIAGE, "", "File", "Patient", "Study")
FIXED_AFTER = ("Gate", "Status", "Viewed", "Reviewed", "Flag", "Note")


class WorklistModel(QAbstractTableModel):
    flag_edited = Signal(int, bool)  # study, flagged: the reader ticked the Flag cell

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[StudyRow] = []
        self.score_columns: list[ScoreColumn] = []
        self.include_children = False  # whether children's TB answers take part in TB triage

    # -- columns ---------------------------------------------------------------------------------
    @property
    def headers(self) -> list[str]:
        return [*FIXED_BEFORE, *(c.title for c in self.score_columns), *FIXED_AFTER]

    def keys(self) -> list[str]:
        """Each column's key, left to right: a fixed header, or a score key "<kind>:<model>"."""
        return [*FIXED_BEFORE, *(c.key for c in self.score_columns), *FIXED_AFTER]

    def column(self, name: str) -> int:
        """The column of a fixed header ("Triage", "Status", ...) or of a score key ("finding:<model>")."""
        return self.keys().index(name)

    @property
    def triage_column(self) -> ScoreColumn | None:
        """The model the triage column shows: the TB screening classifier, else the TB lesion model;
        None when neither is installed (the column then shows each study's most urgent finding)."""
        for kind, label in (("finding", SCREENING_LABEL), ("lesions", LESIONS_LABEL)):
            found = next((c for c in self.score_columns if c.kind == kind and label in c.labels), None)
            if found is not None:
                return found
        return None

    def ensure_score_column(self, column: ScoreColumn) -> None:
        """Add a score column unless its key has one; a column made before its first result (without
        a tooltip) takes the title and tooltip the result gives (an unsigned model, a site threshold)."""
        for at, existing in enumerate(self.score_columns):
            if existing.key == column.key:
                if column.tooltip and column != existing:
                    self.score_columns[at] = column
                    section = len(FIXED_BEFORE) + at
                    self.headerDataChanged.emit(Qt.Orientation.Horizontal, section, section)
                    self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, 0)  # the triage column's title
                    self._all_changed()
                return
        at = len(FIXED_BEFORE) + len(self.score_columns)
        self.beginInsertColumns(QModelIndex(), at, at)
        self.score_columns.append(column)
        self.endInsertColumns()
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, 0)
        self._all_changed()

    def set_include_children(self, include: bool) -> None:
        """Whether children's TB answers take part in TB triage (they are greyed and sort last when not)."""
        if include != self.include_children:
            self.include_children = include
            self._all_changed()

    # -- rows ------------------------------------------------------------------------------------
    def add_study(self, study: int, path: Path) -> None:
        if study != len(self.rows):
            raise ValueError(f"studies are added in order: expected {len(self.rows)}, got {study}")
        self.beginInsertRows(QModelIndex(), study, study)
        self.rows.append(StudyRow(study, Path(path), patient=Path(path).name))
        self.endInsertRows()

    def update(self, study: int, **changes) -> None:
        """Set fields of a study's row and repaint it."""
        row = self.rows[study]
        for name, value in changes.items():
            setattr(row, name, value)
        self.row_changed(study)

    def row_changed(self, study: int) -> None:
        self.dataChanged.emit(self.index(study, 0), self.index(study, self.columnCount() - 1))

    def _all_changed(self) -> None:
        if self.rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.rows) - 1, self.columnCount() - 1))

    # -- answers ---------------------------------------------------------------------------------
    def call(self, row: StudyRow, column: ScoreColumn) -> TriageCall | None:
        """The study's answer from `column`'s model as the worklist calls it; None before it is in."""
        summary = row.summaries.get(column.key)
        if summary is None or column.key not in row.scores:
            return None
        triage = self.triage_column
        return triage_call(summary, row.scores[column.key], gate_accepted=None if row.gate is None else row.gate[0],
                           meta=row.meta, card=column.card, tb_triage=triage is not None and column.key == triage.key,
                           include_children=self.include_children)

    def triage_answer(self, row: StudyRow) -> tuple[TriageCall | None, ScoreColumn | None]:
        """The triage column's answer and the model it is from: the TB model's, else the most urgent."""
        triage = self.triage_column
        if triage is not None:
            return self.call(row, triage), triage
        answers = [(call, column) for column in self.score_columns if (call := self.call(row, column)) is not None]
        return max(answers, key=lambda answer: answer[0].urgency, default=(None, None))

    def _answer(self, row: StudyRow, column: int) -> tuple[TriageCall | None, ScoreColumn | None] | None:
        """(call, model column) of an answer cell (the triage column or a model's); None for other columns."""
        if column == 0:
            return self.triage_answer(row)
        score = self.score_column(column)
        return None if score is None else (self.call(row, score), score)

    # -- Qt's model interface --------------------------------------------------------------------
    def rowCount(self, parent=None) -> int:  # noqa: N802 (Qt's name)
        return 0 if parent is not None and parent.isValid() else len(self.rows)

    def columnCount(self, parent=None) -> int:  # noqa: N802 (Qt's name)
        return 0 if parent is not None and parent.isValid() else len(FIXED_BEFORE) + len(self.score_columns) + len(FIXED_AFTER)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802 (Qt's name)
        if orientation != Qt.Orientation.Horizontal:
            return None
        triage = self.triage_column
        if role == Qt.ItemDataRole.DisplayRole:
            if section == 0:
                return TOP_FINDING if triage is None else _two_lines(triage.title)
            # Qualified names ("Pneumonia (children)") are wider than a figure: on two lines.
            return self.headers[section] if self.score_column(section) is None else _two_lines(self.headers[section])
        if role == Qt.ItemDataRole.ToolTipRole:
            if section == 0:
                what = ("each study's most urgent finding, of every model" if triage is None
                        else f"the TB screening finding of {triage.model}: {triage.tooltip}")
                return f"Triage: {what}.\nCalls: {CALL_RULE}.\nRight-click a header to show or hide columns."
            score = self.score_column(section)
            return f"{score.model}: {score.tooltip}" if score else None
        return None

    def flags(self, index):
        flags = super().flags(index)
        if index.isValid() and index.column() == self.column("Flag") and self.rows[index.row()].reading:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole):  # noqa: N802 (Qt's name)
        if role == Qt.ItemDataRole.CheckStateRole and index.column() == self.column("Flag"):
            self.flag_edited.emit(index.row(), Qt.CheckState(value) == Qt.CheckState.Checked)
            return True  # the row changes once the store has saved it
        return False

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], index.column()
        answer = self._answer(row, column)
        if answer is not None:
            return self._answer_data(row, column, *answer, role)
        name = self.headers[column]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, name)
        if role == SORT_ROLE:
            return self._sort_value(row, name)
        if role == Qt.ItemDataRole.DecorationRole and name == "":
            return row.thumbnail
        if role == Qt.ItemDataRole.CheckStateRole and name == "Flag" and row.reading is not None:
            return Qt.CheckState.Checked if row.reading.flagged else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ForegroundRole and (row.load_error or (name == "Status" and row.step_errors)):
            return FAILED_COLOUR
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, name)
        return None

    def _answer_data(self, row: StudyRow, column: int, call: TriageCall | None, score: ScoreColumn | None, role):
        """An answer cell: the call's word and figure, its colour, its reason; or why none is in yet."""
        key = score.key if score is not None else None
        if call is None:
            pending = row.pending(key)
            if role == Qt.ItemDataRole.DisplayRole:
                return pending
            if role == Qt.ItemDataRole.ForegroundRole:
                return FAILED_COLOUR if pending == "failed" else WITHHELD_COLOUR
            if role == Qt.ItemDataRole.ToolTipRole and pending == "failed":
                return row.load_error or row.step_errors.get(key or "", "") or "\n".join(row.step_errors.values())
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            # The triage column without a TB model names whose finding it shows.
            return call.text if column or self.triage_column is not None else f"{call.text} {call.summary.name}"
        if role == SORT_ROLE:
            return call.urgency
        if role == CALL_ROLE:
            return call.call
        if role == Qt.ItemDataRole.DecorationRole:
            return swatch(CALL_COLOURS[call.call])
        if role == Qt.ItemDataRole.ForegroundRole:
            return QColor(CALL_COLOURS[call.call]) if call.applies else WITHHELD_COLOUR
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{call.explanation}\n{score.model}: {score.tooltip}"
        return None

    def score_column(self, column: int) -> ScoreColumn | None:
        """The model shown in `column`, None for a fixed column."""
        at = column - len(FIXED_BEFORE)
        return self.score_columns[at] if 0 <= at < len(self.score_columns) else None

    @staticmethod
    def _text(row: StudyRow, name: str) -> str:
        reading = row.reading
        return {
            "File": row.path.name,
            "Patient": row.patient,
            "Study": row.study_text,
            "Gate": "" if row.gate is None else f"{'accepted' if row.gate[0] else 'rejected'} {row.gate[1]:.2f}",
            "Status": row.status,
            "Viewed": "✓" if reading and reading.viewed else "",
            "Reviewed": "✓" if reading and reading.reviewed else "",
            "Note": reading.note.replace("\n", " ") if reading else "",
        }.get(name, "")

    @staticmethod
    def _sort_value(row: StudyRow, name: str):
        """A number or text to order by; None (no value) always sorts last."""
        reading = row.reading
        return {
            "": row.study,
            "File": row.path.name.lower(),
            "Patient": row.patient.lower(),
            "Study": row.study_text.lower() or None,
            "Gate": None if row.gate is None else row.gate[1],
            "Status": row.status,
            "Viewed": int(bool(reading and reading.viewed)),
            "Reviewed": (reading.reviewed or None) if reading else None,
            "Flag": int(bool(reading and reading.flagged)),
            "Note": (reading.note.lower() or None) if reading else None,
        }.get(name)

    @staticmethod
    def _tooltip(row: StudyRow, name: str) -> str | None:
        if name == "File":
            return str(row.path)
        if name == "Status" and (row.load_error or row.step_errors):
            return row.load_error or "\n".join(row.step_errors.values())
        if name == "Note" and row.reading:
            return row.reading.note or None
        if name == "Viewed" and row.reading and row.reading.first_viewed:
            return f"first viewed {row.reading.first_viewed}"
        if name == "Reviewed" and row.reading and row.reading.reviewed:
            return f"reviewed {row.reading.reviewed}"
        return None


class WorklistProxy(QSortFilterProxyModel):
    """Sorts by SORT_ROLE; studies without a value stay at the bottom in either order."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def lessThan(self, left, right) -> bool:  # noqa: N802 (Qt's name)
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        descending = self.sortOrder() == Qt.SortOrder.DescendingOrder
        # Qt reverses lessThan for a descending sort: ties and missing values compensate, so equal
        # values keep the opening order and missing ones stay at the bottom either way.
        opening_order = (left.row() < right.row()) != descending
        if a is None or b is None:
            if (a is None) == (b is None):
                return opening_order
            return (a is None) == descending
        if type(a) is not type(b) and not all(isinstance(v, (int, float)) for v in (a, b)):
            a, b = str(a), str(b)
        if a == b:
            return opening_order
        return a < b


def _two_lines(title: str) -> str:
    """A model's title with its qualifier on a second line: "Pneumonia (children)" becomes
    "Pneumonia" over "(children)"; a title without one is kept whole."""
    name, bracket, rest = title.partition(" (")
    return f"{name}\n({rest}" if bracket else title
