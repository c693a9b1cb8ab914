"""The worklist's table model: one row per opened study, and the proxy that sorts it for triage.

A row holds the study's thumbnail, patient and study ids, one score per model, the gate's verdict,
its status (loading, queued, analysing, done, failed with the reason) and the reader's reading state.
Rows are appended in the order the session adds studies, so a source row number is the study id.

Scores: a two-label classifier's score is P(labels[1]) (the card's positive label); a single-label
classifier with more labels scores 1 − P(labels[0]) (its first label is the normal class in every
shipped card); a multilabel one its highest probability; the TB lesion model its image-level
lesion score. A study the gate rejected keeps its scores on show, greyed, but sorts with the
unscored at the bottom: an image that is not a frontal chest radiograph must not head a triage list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPixmap

from cxrviewer.core.image import ImageMeta
from cxrviewer.core.imageops.resample import resize
from cxrviewer.core.reading_store import ReadingState

THUMBNAIL_SIZE = 48
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
FAILED_COLOUR = QColor(230, 80, 80)
WITHHELD_COLOUR = QColor(150, 150, 150)
FIXED_BEFORE = ("", "File", "Patient", "Study")
FIXED_AFTER = ("Gate", "Status", "Viewed", "Flag", "Note")


@dataclass(frozen=True)
class ScoreColumn:
    """key: "<kind>:<model>" of the results it shows; title: the header; tooltip: what the score is."""

    key: str
    title: str
    tooltip: str = ""


@dataclass
class StudyRow:
    """The UI state of one study in the worklist (mutable, owned by the model)."""

    study: int
    path: Path
    patient: str = ""
    study_text: str = ""
    thumbnail: QPixmap | None = None
    loaded: bool = False
    load_error: str = ""
    analysis: str = ""  # "", "queued", "analysing" or "done"
    step_errors: dict[str, str] = field(default_factory=dict)  # score/gate key → message
    scores: dict[str, float] = field(default_factory=dict)
    gate: tuple[bool, float] | None = None  # (accepted, P(frontal chest radiograph))
    reading: ReadingState | None = None

    @property
    def status(self) -> str:
        if self.load_error:
            return f"failed: {self.load_error}"
        if not self.loaded:
            return "loading…"
        if self.analysis == "analysing":
            return "analysing"
        if self.step_errors:
            return f"failed: {next(iter(self.step_errors.values()))}"
        return self.analysis or "loaded"


def score_of(kind: str, payload: object) -> float:
    """The triage score of a "finding" (analysis.findings.Finding) or "lesions" (LesionFinding) result."""
    if kind == "lesions":
        return float(payload.score)
    probabilities = tuple(float(p) for p in payload.probabilities)
    if getattr(payload, "rule", "") == "multilabel":
        return max(probabilities)
    if len(probabilities) == 2:
        return probabilities[1]
    return 1.0 - probabilities[0]


def score_tooltip(kind: str, labels: tuple[str, ...], rule: str = "", lesion: str = "TB") -> str:
    """`lesion`: a lesion model's short name (`analysis.pipeline.LESION_LABELS`), "TB" or "opacity"."""
    if kind == "lesions":
        return f"{lesion} lesion score: mean of the lesion map's top 0.5 % of pixels"
    if rule == "multilabel":
        return "highest probability of " + ", ".join(labels)
    if len(labels) == 2:
        return f"P({labels[1]})"
    return f"1 − P({labels[0]})" if labels else ""


def thumbnail(pixels: npt.NDArray[np.float32], size: int = THUMBNAIL_SIZE) -> QPixmap:
    """pixels (H, W) float32 [0, 1], display polarity → a grey pixmap whose longer side is `size`."""
    rows, columns = pixels.shape
    scale = size / max(rows, columns)
    small = resize(pixels, (max(1, round(rows * scale)), max(1, round(columns * scale))), "area")
    grey = np.ascontiguousarray(np.clip(small * 255.0 + 0.5, 0, 255).astype(np.uint8))
    image = QImage(grey.data, grey.shape[1], grey.shape[0], grey.strides[0], QImage.Format.Format_Grayscale8)
    return QPixmap.fromImage(image.copy())


def study_ids(meta: ImageMeta) -> tuple[str, str]:
    """(patient, study): Patient ID (else the file name) and Accession Number, Study ID or date."""
    tags = {name: value for _tag, name, _vr, value in meta.tags}
    study = tags.get("Accession Number") or tags.get("Study ID") or meta.study_date or meta.description
    return meta.patient_id or meta.path.name, study


class WorklistModel(QAbstractTableModel):
    flag_edited = Signal(int, bool)  # study, flagged: the reader ticked the Flag cell

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list[StudyRow] = []
        self.score_columns: list[ScoreColumn] = []

    # -- columns ---------------------------------------------------------------------------------
    @property
    def headers(self) -> list[str]:
        return [*FIXED_BEFORE, *(c.title for c in self.score_columns), *FIXED_AFTER]

    def column(self, name: str) -> int:
        """The column of a fixed header ("Status", "Note", ...) or of a score key ("finding:<model>")."""
        keys = [*FIXED_BEFORE, *(c.key for c in self.score_columns), *FIXED_AFTER]
        return keys.index(name)

    def ensure_score_column(self, column: ScoreColumn) -> None:
        """Add a score column unless its key has one; a column made before its first result (without
        a tooltip) takes the title and tooltip the result gives (an unsigned model, a site threshold)."""
        for at, existing in enumerate(self.score_columns):
            if existing.key == column.key:
                if column.tooltip and column != existing:
                    self.score_columns[at] = column
                    section = len(FIXED_BEFORE) + at
                    self.headerDataChanged.emit(Qt.Orientation.Horizontal, section, section)
                return
        at = len(FIXED_BEFORE) + len(self.score_columns)
        self.beginInsertColumns(QModelIndex(), at, at)
        self.score_columns.append(column)
        self.endInsertColumns()

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

    # -- Qt's model interface --------------------------------------------------------------------
    def rowCount(self, parent=None) -> int:  # noqa: N802 (Qt's name)
        return 0 if parent is not None and parent.isValid() else len(self.rows)

    def columnCount(self, parent=None) -> int:  # noqa: N802 (Qt's name)
        return 0 if parent is not None and parent.isValid() else len(FIXED_BEFORE) + len(self.score_columns) + len(FIXED_AFTER)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802 (Qt's name)
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            title = self.headers[section]
            # Model names ("pneumonia3-kermany") are wider than a score column: shown on two lines,
            # broken after the last hyphen, so the header is read whole instead of cut at both ends.
            return title if self.score_column(section) is None else _two_lines(title)
        if role == Qt.ItemDataRole.ToolTipRole:
            score = self.score_column(section)
            return score.tooltip if score else None
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
        score = self.score_column(column)
        name = self.headers[column] if score is None else None
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, column, name, score)
        if role == SORT_ROLE:
            return self._sort_value(row, name, score)
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return row.thumbnail
        if role == Qt.ItemDataRole.CheckStateRole and name == "Flag" and row.reading is not None:
            return Qt.CheckState.Checked if row.reading.flagged else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ForegroundRole:
            if row.load_error or (name == "Status" and row.step_errors):
                return FAILED_COLOUR
            if score is not None and row.gate is not None and not row.gate[0]:
                return WITHHELD_COLOUR
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, name, score)
        return None

    def score_column(self, column: int) -> ScoreColumn | None:
        """The score shown in `column`, None for a fixed column."""
        at = column - len(FIXED_BEFORE)
        return self.score_columns[at] if 0 <= at < len(self.score_columns) else None

    @staticmethod
    def _text(row: StudyRow, column: int, name: str | None, score: ScoreColumn | None) -> str:
        if score is not None:
            value = row.scores.get(score.key)
            return "" if value is None else f"{value:.3f}"
        reading = row.reading
        return {
            "File": row.path.name,
            "Patient": row.patient,
            "Study": row.study_text,
            "Gate": "" if row.gate is None else f"{'accepted' if row.gate[0] else 'rejected'} {row.gate[1]:.2f}",
            "Status": row.status,
            "Viewed": "✓" if reading and reading.viewed else "",
            "Note": reading.note.replace("\n", " ") if reading else "",
        }.get(name, "")

    @staticmethod
    def _sort_value(row: StudyRow, name: str | None, score: ScoreColumn | None):
        """A number or text to order by; None (no value) always sorts last."""
        if score is not None:
            if row.gate is not None and not row.gate[0]:
                return None
            return row.scores.get(score.key)
        reading = row.reading
        return {
            "": row.study,
            "File": row.path.name.lower(),
            "Patient": row.patient.lower(),
            "Study": row.study_text.lower() or None,
            "Gate": None if row.gate is None else row.gate[1],
            "Status": row.status,
            "Viewed": int(bool(reading and reading.viewed)),
            "Flag": int(bool(reading and reading.flagged)),
            "Note": (reading.note.lower() or None) if reading else None,
        }.get(name)

    @staticmethod
    def _tooltip(row: StudyRow, name: str | None, score: ScoreColumn | None) -> str | None:
        if score is not None:
            if score.key in row.step_errors:
                return row.step_errors[score.key]
            if row.gate is not None and not row.gate[0]:
                return "the gate did not recognise a frontal chest radiograph: sorted last, shown for reference"
            return score.tooltip
        if name == "File":
            return str(row.path)
        if name == "Status" and (row.load_error or row.step_errors):
            return row.load_error or "\n".join(row.step_errors.values())
        if name == "Note" and row.reading:
            return row.reading.note or None
        if name == "Viewed" and row.reading and row.reading.first_viewed:
            return f"first viewed {row.reading.first_viewed}"
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
    """A score title broken after the last hyphen of its model name: `tb-lesions-tbx11k (TB)` becomes
    `tb-lesions-` over `tbx11k (TB)`; a name without a hyphen is kept whole."""
    name, space, rest = title.partition(" ")
    head, hyphen, tail = name.rpartition("-")
    return f"{head}{hyphen}\n{tail}{space}{rest}" if hyphen and head else title

