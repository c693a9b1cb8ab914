"""The worklist: every opened study in a sortable table, triaged in the background, with the reader's
reading state (viewed, flagged, a note) kept in the folder's reading store.

The main window builds it into its "Worklist" dock and wires it (`gui.main_window`): the session
feeds its rows, the analysis service's results for the shown study fill them directly, Next/Previous
study step through its sorted order, and `worklist_actions` gives the window File → Export reading
state as CSV…, Flag study (F) and Edit note (N) to place. In the table, Up/Down move, Enter (or a
click) opens the study.

Triage (issue 20, item 4): the first column is the triage column (`gui.worklist_model`), wide enough
for its call and figure at the dock's default width; clicking its header, or any model's, sorts the
most urgent first (▼), again the other way. The models' own columns are hidden until the reader
shows them from the header's right-click menu (`gui.worklist_header`, remembered in the settings).
"Include children in TB triage" (remembered too, off by default) lets children's TB answers take
part; otherwise they are greyed and sort last (item 3).

Which reading store: each study belongs to the folder it was opened from (a file opened on its own:
its folder), which the window tells it through `add_roots`; see `core.reading_store` for where the
store lives and how a study is keyed. A store that cannot be opened (damaged, locked, not ours) is
named in the status bar and the note box; the worklist and the viewer go on without reading state
there. A read-only store beside the studies continues in the user data folder; the status bar and
the note box say where (`gui.reading_panel`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QObject, QSettings, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHeaderView,
    QProgressBar,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from cxrviewer.analysis.report_readings import finding_summary
from cxrviewer.core.image import Image
from cxrviewer.core.reading_store import ReadingStoreError, folder_writable
from cxrviewer.gui.reading_panel import ReadingPanel
from cxrviewer.gui.worklist_header import WorklistHeader
from cxrviewer.gui.worklist_model import TRIAGE, WorklistModel, WorklistProxy
from cxrviewer.gui.worklist_rows import THUMBNAIL_SIZE, score_column, score_of, study_ids, thumbnail
from cxrviewer.gui.worklist_triage import TriageRunner

log = logging.getLogger(__name__)

SCORE_KINDS = ("finding", "lesions")
HIDDEN_FIXED = ("Reviewed",)  # fixed columns hidden until the reader shows them (the header's right-click menu)
INCLUDE_CHILDREN_KEY = "worklist/include_children"
INCLUDE_CHILDREN_TEXT = "Include children in TB triage"
# The widest text a triage cell holds, for its default width.
WIDEST_CALL = "indeterminate (99.9 %)"


class WorklistView(QTableView):
    """Up/Down move the highlight; Enter opens the highlighted study, as a click does."""

    open_requested = Signal(int)  # source row = study id

    def keyPressEvent(self, event):  # noqa: N802 (Qt's name)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.open_requested.emit(self.model().mapToSource(self.currentIndex()).row())
            return
        super().keyPressEvent(event)


class Worklist(QWidget):
    """The table, the triage progress and the reading box. Rows come from the session (a source row
    is the study id), scores from the triage and the analysis service; it never opens a study
    itself, it asks (`study_activated`) and the window's session decides."""

    study_activated = Signal(int)  # the reader asked to open this study
    message = Signal(str)  # something for the status bar (a store error, an export)
    idle = Signal()  # every loaded study has been analysed (or failed)

    def __init__(self, parent=None, *, triage: TriageRunner | None = None, user_data: Path | None = None,
                 settings: QSettings | None = None):
        """settings: where the shown columns and the children choice are kept (None: not kept)."""
        super().__init__(parent)
        self.settings = settings
        self.model = WorklistModel(self)
        self.proxy = WorklistProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = WorklistView(self)
        # The models' own columns (keys "<kind>:<model>") are hidden until shown; the triage column always
        # shows. Reviewed is hidden until shown too: the fixed columns already overflow the worklist's
        # default width, and the reading box's Reviewed tick shows the mark of the study on screen.
        self.header = WorklistHeader(self.view, settings, keys=self.model.keys, title=self._column_title,
                                     hidden_by_default=lambda key: key.partition(":")[0] in SCORE_KINDS
                                     or key in HIDDEN_FIXED,
                                     fixed=(TRIAGE,))
        self.view.setHorizontalHeader(self.header)
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setIconSize(QSize(THUMBNAIL_SIZE, THUMBNAIL_SIZE))
        self.view.verticalHeader().setVisible(False)
        self.view.verticalHeader().setDefaultSectionSize(THUMBNAIL_SIZE + 4)
        self.view.setWordWrap(False)
        header = self.header
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        # The call's word and figure, not cut off, beside its colour swatch (12 px and margins) and
        # the sort arrow (7 px and margins).
        header.resizeSection(0, self.view.fontMetrics().horizontalAdvance(WIDEST_CALL) + 44)
        header.resizeSection(self.model.column(""), THUMBNAIL_SIZE + 8)
        header.setStretchLastSection(True)
        header.sectionClicked.connect(self._on_header_clicked)
        self.proxy.columnsInserted.connect(lambda *_: header.apply_columns())
        header.apply_columns()
        self.view.clicked.connect(lambda index: self._open(self.proxy.mapToSource(index).row()))
        self.view.open_requested.connect(self._open)
        self.progress = QProgressBar(self, textVisible=True)
        self.progress.setFormat("%v / %m analysed")
        self.include_children = QCheckBox(INCLUDE_CHILDREN_TEXT, self)
        self.include_children.setToolTip("Off: a child's TB answer (recorded age under 18) is greyed and sorts last, "
                                         "since TB triage screens adults")
        self.include_children.setChecked(bool(settings.value(INCLUDE_CHILDREN_KEY, False, type=bool))
                                         if settings is not None else False)
        self.model.set_include_children(self.include_children.isChecked())
        self.include_children.toggled.connect(self._on_include_children)
        self.reading = ReadingPanel(self, user_data=user_data)
        self.reading.state_changed.connect(lambda study, state: self.model.update(study, reading=state))
        self.reading.message.connect(self.message)
        self.model.flag_edited.connect(self.reading.set_flag)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.include_children)
        layout.addWidget(self.progress)
        layout.addWidget(self.reading)
        self.current: int | None = None
        # The worklist owns its triage (None: no background scoring) and shuts it down with itself.
        self.triage = triage
        if triage is not None:
            triage.setParent(self)
            self.attach_results(triage)
            triage.study_started.connect(self._on_triage_started)
            triage.study_finished.connect(self._on_triaged)
            for kind, name in triage.steps():
                if kind in SCORE_KINDS:
                    self._ensure_column(kind, name)
        self._update_progress()

    # -- feeding ---------------------------------------------------------------------------------
    def add_roots(self, paths: list[Path]) -> None:
        """The reader opened these files and folders: each study found in them keeps its reading
        state in its folder's store. Called before the session scans them."""
        self.reading.readings.add_roots([Path(p) for p in paths])

    def attach_results(self, source: QObject) -> None:
        """Read gate, finding and lesion results from `source` (the analysis service or the triage)."""
        source.result_ready.connect(self.on_result)
        source.step_failed.connect(self.on_step_failed)

    def add_study(self, study: int, path: Path) -> None:
        self.model.add_study(study, path)
        self._update_progress()

    def study_loaded(self, study: int, image: Image) -> None:
        row = self.model.rows[study]
        if row.loaded:
            return  # read again after the cache dropped it: nothing new
        patient, study_text = study_ids(image.meta)
        reading = self.reading.register(study, row.path, image.meta.sop_uid)
        self.model.update(study, loaded=True, patient=patient, study_text=study_text, meta=image.meta,
                          thumbnail=thumbnail(image.pixels), reading=reading,
                          analysis="queued" if self.triage is not None and self.triage.steps() else "done")
        if row.analysis == "queued":
            self.triage.enqueue(study, row.path)
        if study == self.current:
            self.reading.show_study(study)
        self._update_progress()

    def study_failed(self, study: int, message: str) -> None:
        problem = message.removeprefix(f"{self.model.rows[study].path}: ")
        self.model.update(study, load_error=problem, analysis="")
        if self.triage is not None:
            self.triage.discard(study)
        self._update_progress()

    def on_result(self, study: object, kind: str, key: object, payload: object) -> None:
        if not isinstance(study, int) or not 0 <= study < len(self.model.rows):
            return
        row = self.model.rows[study]
        if kind == "gate":
            row.gate = (bool(payload.accepted), float(payload.score))
            row.step_errors.pop("gate", None)
        elif kind in SCORE_KINDS:
            column = self._ensure_column(kind, key, payload)
            row.scores[column] = score_of(kind, payload)
            row.summaries[column] = finding_summary(payload)
            row.step_errors.pop(column, None)
        else:
            return
        self._check_complete(study)
        self.model.row_changed(study)

    def on_step_failed(self, study: object, kind: str, key: object, message: str) -> None:
        if not isinstance(study, int) or not 0 <= study < len(self.model.rows) or kind not in ("gate", *SCORE_KINDS):
            return
        self.model.rows[study].step_errors["gate" if kind == "gate" else f"{kind}:{key}"] = message
        self._check_complete(study)
        self.model.row_changed(study)

    def on_service_progress(self, study: object, done: int, total: int) -> None:
        """The analysis service works on the shown study: its row says so until the scores are in."""
        if not isinstance(study, int) or not 0 <= study < len(self.model.rows):
            return
        row = self.model.rows[study]
        if row.loaded and not row.load_error and row.analysis in ("queued", "analysing"):
            triaging = self.triage is not None and self.triage.running == study
            self._set_analysis(study, "analysing" if done < total or triaging else "queued")

    def refresh_roles(self, roles) -> None:
        """The installed models changed (pipeline.ModelRoles): triage every study again that lacks a
        result of the models now installed."""
        if self.triage is None or roles == self.triage.roles:
            return
        self.triage.roles = roles
        self.triage.forget_cards()
        wanted = self._wanted()
        for kind, name in self.triage.steps():
            if kind in SCORE_KINDS:
                self._ensure_column(kind, name)
        for row in self.model.rows:
            if row.loaded and not row.load_error and row.analysis == "done" and not wanted <= self._have(row):
                self.model.update(row.study, analysis="queued")
                self.triage.enqueue(row.study, row.path)
        self._update_progress()

    def _wanted(self) -> set[str]:
        return {"gate" if kind == "gate" else f"{kind}:{name}" for kind, name in self.triage.steps()}

    @staticmethod
    def _have(row) -> set[str]:
        return set(row.scores) | set(row.step_errors) | ({"gate"} if row.gate is not None else set())

    def _ensure_column(self, kind: str, model: str, payload: object | None = None) -> str:
        card = self.triage.card(model) if self.triage is not None else None
        column = score_column(kind, model, payload, card)
        self.model.ensure_score_column(column)
        return column.key

    def _column_title(self, column: int) -> str:
        """A column's name in the header's menu: its header on one line, a model's with its id."""
        score = self.model.score_column(column)
        if score is not None:
            return f"{score.title} — {score.ident}"
        return self.model.headers[column] or "Thumbnail"

    def _on_include_children(self, include: bool) -> None:
        if self.settings is not None:
            self.settings.setValue(INCLUDE_CHILDREN_KEY, include)
        self.model.set_include_children(include)

    def _check_complete(self, study: int) -> None:
        """A study the service has fully scored needs no triage of its own."""
        row = self.model.rows[study]
        if self.triage is None or row.analysis not in ("queued", "analysing"):
            return
        if self._wanted() <= self._have(row):
            self.triage.discard(study)
            row.analysis = "done"
            self._update_progress()

    def _on_triage_started(self, study: int) -> None:
        self._set_analysis(study, "analysing")

    def _on_triaged(self, study: int, error: str) -> None:
        if error:
            self.model.rows[study].step_errors["read"] = error
        self._set_analysis(study, "done")

    def _set_analysis(self, study: int, state: str) -> None:
        self.model.update(study, analysis=state)
        self._update_progress()

    @property
    def busy(self) -> bool:
        """True while a study is still being read or waits for its analysis."""
        return any(not r.load_error and r.analysis != "done" for r in self.model.rows)

    def _update_progress(self) -> None:
        rows = [r for r in self.model.rows if not r.load_error]
        done = sum(1 for r in rows if r.analysis == "done")
        was_busy = self.progress.value() < self.progress.maximum()
        self.progress.setRange(0, max(len(rows), 1))
        self.progress.setValue(done)
        self.progress.setVisible(bool(rows))
        if rows and done == len(rows) and was_busy:
            self.idle.emit()

    # -- sorting and moving ----------------------------------------------------------------------
    def sort_by(self, column: int, order: Qt.SortOrder | None = None) -> None:
        """Sort by `column`; the triage column, the models' and the gate default to most urgent
        (highest) first, text columns to A→Z. The sorted column is scrolled into view."""
        if order is None:
            numeric = column in (0, self.model.column("Gate")) or self.model.score_column(column) is not None
            order = Qt.SortOrder.DescendingOrder if numeric else Qt.SortOrder.AscendingOrder
        self.proxy.sort(column, order)
        self.header.show_sort(column, order)
        if self.proxy.rowCount():
            self.view.scrollTo(self.proxy.index(0, column))

    def _on_header_clicked(self, column: int) -> None:
        if self.proxy.sortColumn() == column:
            flipped = (Qt.SortOrder.AscendingOrder if self.proxy.sortOrder() == Qt.SortOrder.DescendingOrder
                       else Qt.SortOrder.DescendingOrder)
            self.sort_by(column, flipped)
        else:
            self.sort_by(column)

    def visible_order(self) -> list[int]:
        """Study ids from the top of the table down."""
        return [self.proxy.mapToSource(self.proxy.index(r, 0)).row() for r in range(self.proxy.rowCount())]

    def step(self, delta: int) -> None:
        """Open the study `delta` rows below (above) the current one in the table's order, stopping at the ends."""
        order = self.visible_order()
        if not order:
            return
        at = order.index(self.current) if self.current in order else (-1 if delta > 0 else len(order))
        self._open(order[min(max(at + delta, 0), len(order) - 1)])

    def show_current(self, study: int) -> None:
        """The session made `study` the current one: highlight its row and show its note."""
        self.current = study
        source = self.model.index(study, 0)
        index = self.proxy.mapFromSource(source)
        self.view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        self.view.scrollTo(index)
        self.reading.show_study(study)

    def _open(self, study: int) -> None:
        if study >= 0:
            self.study_activated.emit(study)

    # -- export and shutdown ---------------------------------------------------------------------
    def export_csv(self, out: Path) -> int:
        """Every study's reading state, scores, gate verdict and status as CSV (`ReadingPanel.export_csv`)."""
        extra = {}
        for row in self.model.rows:
            values: dict[str, object] = {c.ident: row.scores[c.key] for c in self.model.score_columns
                                         if c.key in row.scores}
            values["gate"] = "" if row.gate is None else ("accepted" if row.gate[0] else "rejected")
            values["status"] = row.status
            extra[row.study] = values
        return self.reading.export_csv(Path(out), extra)

    def export_dialog(self) -> None:
        """Ask where, then `export_csv` there; the outcome goes out as a `message`."""
        roots = self.reading.readings.roots
        # A read-only folder (a CD) cannot take the CSV: offer the home folder instead.
        folder = roots[0] if roots and folder_writable(roots[0]) else Path.home()
        start = str(folder / "reading.csv")
        target, _ = QFileDialog.getSaveFileName(self, "Export reading state as CSV", start, "CSV (*.csv)")
        if not target:
            return
        try:
            rows = self.export_csv(Path(target))
        except ReadingStoreError as error:
            self.message.emit(str(error))
            return
        self.message.emit(f"{rows} studies written to {target}")

    def shutdown(self) -> None:
        self.reading.shutdown()
        if self.triage is not None:
            self.triage.shutdown()


def worklist_actions(worklist: Worklist, parent: QObject) -> dict[str, QAction]:
    """The worklist's window actions, by name, for the window to place: "export_reading_csv" (File
    menu), "flag_study" (F), "edit_note" (N) and "mark_reviewed" (Ctrl+Enter) (View menu). Window
    shortcuts, so F and N work with the table focused; typed into the note box they are text
    (Ctrl+Enter is not, so it marks the study reviewed from the note box too)."""
    export = QAction("Export reading state as CSV…", parent)
    export.triggered.connect(worklist.export_dialog)
    flag = QAction("Flag or unflag the study", parent, shortcut=QKeySequence("F"))
    flag.triggered.connect(worklist.reading.toggle_flag)
    note = QAction("Edit the study's note", parent, shortcut=QKeySequence("N"))
    note.triggered.connect(lambda: worklist.reading.note_edit.setFocus())
    reviewed = QAction("Mark the study reviewed (or not)", parent)
    reviewed.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
    reviewed.triggered.connect(worklist.reading.toggle_reviewed)
    return {"export_reading_csv": export, "flag_study": flag, "edit_note": note, "mark_reviewed": reviewed}
