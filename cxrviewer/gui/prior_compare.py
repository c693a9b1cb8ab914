"""The prior comparison (issue 20, item 9): the shown study and the same patient's previous film side
by side in the main view, window/level, zoom and pan linked both ways.

View → Compare with prior (C) splits the main view: the main canvas keeps the current study with its
layers, corner text and ruler; a second `Canvas` beside it shows the prior (`core.priors.find_prior`
among the studies read so far) under its own `ViewState`, the session's state of that study, so its
flips and turns are the ones the reader gave it. `core.view_link.ViewLink` links the two states. Each
pane is headed by its date, the prior's in amber with "PRIOR", how much earlier it is and which
identity matched it. The keys that flip, turn, zoom or reset act on the pane the reader last clicked
(`active_state`); the link carries zoom, pan and window to the other.

While the comparison is on, showing another study follows that study's prior (a reader stepping
through a patient's films keeps comparing); a study without a prior ends it, and the status bar says
why. C again, or a study that cannot be shown, returns to one view.

Why a second Canvas rather than `gui.compare_view`'s linked ViewBoxes: those show one film twice
(original and soft tissue, the same pixel grid), so linking the boxes' coordinates links the views;
here the films differ in size and each has its own view state, which the canvas already draws and
drives with the mouse (window drag, pan, wheel), so the link is made between the states instead.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from cxrviewer.core.film_text import display_date, display_name
from cxrviewer.core.image import Image
from cxrviewer.core.priors import BY_ID, PriorSearch, StudyRecord, find_prior, interval_text
from cxrviewer.core.view_link import ViewLink
from cxrviewer.core.viewstate import ViewState
from cxrviewer.gui.canvas import Canvas
from cxrviewer.gui.session import LoadedStudy, StudySession

HEADER_STYLE = "color: #ffffff; background: %s; padding: 3px 8px; font-size: 13px; border-bottom: 3px solid %s;"
CURRENT_COLOUR = "#1e3a5f"
PRIOR_COLOUR = "#8a6100"
ACTIVE_EDGE = "#ffd24d"  # the pane the keys act on
PANE_SPACING = 4


class SplitView(QWidget):
    """The main view: the main canvas alone, or split with the prior's canvas, each under a header."""

    def __init__(self, canvas: Canvas, parent: QWidget | None = None):
        super().__init__(parent)
        self.canvas = canvas
        self.prior_canvas = Canvas()
        self.prior_canvas.setAcceptDrops(False)  # drops over the image go to the window
        self.headers = (QLabel(), QLabel())
        for header in self.headers:  # a long header is cut, never widens its pane: the panes stay equal
            header.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(PANE_SPACING)
        self.panes = []
        for header, pane_canvas in zip(self.headers, (canvas, self.prior_canvas), strict=True):
            pane = QWidget()
            column = QVBoxLayout(pane)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(0)
            column.addWidget(header)
            column.addWidget(pane_canvas, 1)
            layout.addWidget(pane, 1)
            self.panes.append(pane)
        self.active = 0  # the pane the keys act on
        for pane_canvas in (canvas, self.prior_canvas):
            pane_canvas.viewport().installEventFilter(self)
        self.show_single()

    @property
    def split(self) -> bool:
        return not self.panes[1].isHidden()

    def show_single(self) -> None:
        self.active = 0
        for header in self.headers:
            header.hide()
        self.panes[1].hide()

    def show_split(self, current_text: str, prior_text: str) -> None:
        for header, text in zip(self.headers, (current_text, prior_text), strict=True):
            header.setText(text)
            header.setToolTip(text)  # the whole of it, when the pane is too narrow
            header.show()
        self.panes[1].show()
        self._style_headers()
        self.layout().activate()  # the panes take their new sizes now, before the views are linked

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.MouseButtonPress and self.split:
            self.active = 0 if watched is self.canvas.viewport() else 1
            self._style_headers()
        return False

    def _style_headers(self) -> None:
        for number, (header, colour) in enumerate(zip(self.headers, (CURRENT_COLOUR, PRIOR_COLOUR), strict=True)):
            header.setStyleSheet(HEADER_STYLE % (colour, ACTIVE_EDGE if number == self.active else colour))


class PriorComparison(QObject):
    """Owns the split view, the studies' identities and dates, and the link while comparing."""

    message = Signal(str)  # for the status bar

    def __init__(self, canvas: Canvas, session: StudySession, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.view = SplitView(canvas)
        self.canvas, self.prior_canvas = canvas, self.view.prior_canvas
        self.records: dict[int, StudyRecord] = {}
        self.on = False  # the reader asked for the comparison
        self.search: PriorSearch | None = None
        self.link: ViewLink | None = None
        self._current: tuple[int, LoadedStudy, ViewState] | None = None
        self._awaited: int | None = None  # the prior being read
        # A pane resized (panels hidden, the window resized) changes each film's fit by its own
        # shape: the prior takes the current film's relative zoom and pan again.
        for pane_canvas in (canvas, self.prior_canvas):
            pane_canvas.sigDeviceRangeChanged.connect(self._on_pane_resized)

    # -- what the session says -------------------------------------------------------------------
    def record(self, study: int, image: Image) -> None:
        """A study was read: its patient and date take part in finding priors."""
        self.records[study] = StudyRecord.from_meta(study, image.meta)

    def show_current(self, study: int, loaded: LoadedStudy, state: ViewState) -> None:
        """The main canvas shows `study`: while comparing, its prior is shown beside it."""
        self.record(study, loaded.image)
        self._current = (study, loaded, state)
        if self.on:
            self._compare()

    def current_failed(self, _study: int, _message: str) -> None:
        self._current = None
        if self.on:
            self._end("")

    def fetched(self, study: int, loaded: LoadedStudy, state: ViewState) -> None:
        if study != self._awaited or self._current is None:
            return
        self._awaited = None
        _current_study, current, current_state = self._current
        self.prior_canvas.show_study(loaded.image, loaded.indexed, state)
        self.prior_canvas.film_text.set_caption(f"PRIOR {display_date(loaded.image.meta.study_date)}")
        self.link = ViewLink(current_state, current.indexed.value_range, self.canvas.viewport_size,
                             state, loaded.indexed.value_range, self.prior_canvas.viewport_size)

    def _on_pane_resized(self, *_args) -> None:
        if self.link is not None:
            self.link.sync()

    def study_failed(self, study: int, message: str) -> None:
        if study == self._awaited:
            self._end(f"Compare with prior: the prior cannot be read: {message}")

    # -- the reader's action ---------------------------------------------------------------------
    def toggle(self) -> None:
        if self.on:
            self._end("")
        elif self._current is None:
            self.message.emit("Compare with prior: no study is shown")
        else:
            self.on = True
            self._compare()

    def active_state(self) -> ViewState | None:
        """The state the view keys act on: the pane the reader last clicked while comparing."""
        if self.view.split and self.view.active == 1 and self.link is not None:
            return self.prior_canvas.state
        return self.canvas.state

    def _compare(self) -> None:
        self._unlink()
        study, loaded, _state = self._current
        search = find_prior(self.records[study], self.records.values())
        if search.prior is None:
            self._end(f"Compare with prior: {search.reason}{self._unread_note()}")
            return
        self.search = search
        prior = search.prior
        if prior.study in self.session.errors:
            self._end(f"Compare with prior: the prior cannot be read: {self.session.errors[prior.study]}")
            return
        self.view.show_split(self._current_header(loaded), self._prior_header(search))
        self.prior_canvas.show_message("Reading the prior…")
        self.message.emit(f"prior: {display_date(prior.study_date)}, {self._matched_text(search)}")
        self._awaited = prior.study
        self.session.fetch(prior.study)

    def _end(self, message: str) -> None:
        self.on = False
        self._unlink()
        self.search = None
        self.prior_canvas.show_message("")
        self.view.show_single()
        if message:
            self.message.emit(message)

    def _unlink(self) -> None:
        if self.link is not None:
            self.link.close()
        self.link = None
        self._awaited = None
        self.prior_canvas.show_message("")  # the prior canvas lets go of its state
        self.prior_canvas.film_text.set_caption("")  # and of the last prior's date

    # -- words -----------------------------------------------------------------------------------
    def _unread_note(self) -> str:
        unread = sum(1 for study in range(len(self.session.paths))
                     if study not in self.records and study not in self.session.errors)
        return f" ({unread} studies are still being read)" if unread else ""

    @staticmethod
    def _current_header(loaded: LoadedStudy) -> str:
        date = display_date(loaded.image.meta.study_date) or "no study date"
        return f"<b>CURRENT</b> · {date} · {loaded.image.meta.path.name}"

    def _prior_header(self, search: PriorSearch) -> str:
        prior = search.prior
        current = self.records[self._current[0]]
        earlier = interval_text(prior.date, current.date)
        return f"<b>PRIOR</b> · {display_date(prior.study_date)} · {earlier} earlier · {self._matched_text(search)}"

    @staticmethod
    def _matched_text(search: PriorSearch) -> str:
        prior = search.prior
        if search.matched_by == BY_ID:
            return f"same Patient ID {prior.patient_id}"
        return f"same name {display_name(prior.patient_name)} (no Patient ID)"
