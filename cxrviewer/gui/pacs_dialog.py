"""The PACS dialog (for the File menu): find studies at a PACS and retrieve them into the storage folder.

The same core as `cxrviewer pacs find/get` (`net.retrieve`): the peers of the network settings, each
over DIMSE (C-FIND, then C-GET or C-MOVE as the peer is set up) and, when it has a DICOMweb URL, over
DICOMweb (QIDO-RS, WADO-RS). Searches and retrievals run in workers, so the window never waits on
the network; a peer that is down or refuses is said in the dialog, naming the peer. Each retrieved
study's files are announced by `studies_retrieved` as soon as the study is on disk, so the owner can
add them to its worklist; closing the dialog hides it and a retrieval carries on.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cxrviewer.core.errors import ConfigError, CxrError
from cxrviewer.gui.pacs_results import StudyTable
from cxrviewer.gui.pacs_search_form import StudySearchForm
from cxrviewer.gui.workers import CancelToken, JobRunner
from cxrviewer.net.query import StudyMatch
from cxrviewer.net.retrieve import RETRIEVALS, Route, find, retrieve, routes
from cxrviewer.net.settings import NetworkSettings, load_network_settings, settings_file

log = logging.getLogger(__name__)

SEARCH_JOB, RETRIEVE_JOB = 1, 2
CANCELLED = "cancelled"  # a study's outcome when Cancel came before it started
ERROR_STYLE = "color: rgb(170, 30, 30);"


def _files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"


class PacsDialog(QDialog):
    """Non-modal. `settings`: the network settings (default: loaded from `settings_file()`). The owner
    connects `studies_retrieved` and calls `shutdown()` when it quits."""

    studies_retrieved = Signal(list)  # list[Path]: one retrieved study's files, as soon as it is on disk
    searched = Signal(int)  # a search's results are shown: how many studies
    search_failed = Signal(str)  # the message shown, naming the peer
    retrieval_finished = Signal(int, int)  # studies retrieved, studies asked for
    _file_written = Signal()  # from the worker: one more file of the running retrieval is on disk
    _study_done = Signal(str, list, str)  # from the worker: study UID, its files, the error ("" if none)

    def __init__(self, parent: QWidget | None = None, *, settings: NetworkSettings | None = None):
        super().__init__(parent)
        self.setWindowTitle("PACS")
        self.runner = JobRunner(max_threads=2, parent=self)
        self.runner.succeeded.connect(self._on_job_done)
        self.runner.failed.connect(self._on_job_failed)
        self._file_written.connect(self._on_file_written)
        self._study_done.connect(self._on_study_done)
        self._shown_route: Route | None = None  # the route the shown results came from
        self._retrieval: CancelToken | None = None
        self._progress = (0, 0)  # files written, instances expected (0: unknown)
        # The running retrieval: studies not reported yet, how many arrived, failed (with why), were cancelled.
        self._open: list[str] = []
        self._retrieved, self._failures, self._cancelled = 0, [], 0

        self.peer = QComboBox()
        self.folder = QLabel()
        self.folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.form = StudySearchForm()
        self.search_button = QPushButton("Search")
        self.search_button.setDefault(True)  # Return in any field searches
        self.search_button.clicked.connect(self.search)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = StudyTable()
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.retrieve())
        self.retrieve_button = QPushButton("Retrieve")
        self.retrieve_button.clicked.connect(self.retrieve)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the study being retrieved")
        self.cancel_button.clicked.connect(self.cancel_retrieval)
        self.progress = QProgressBar()
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        for button in (self.retrieve_button, self.cancel_button, close):
            button.setAutoDefault(False)

        top = QHBoxLayout()
        top.addWidget(QLabel("PACS"))
        top.addWidget(self.peer, stretch=1)
        search_row = QHBoxLayout()
        search_row.addWidget(self.form, stretch=1)
        search_row.addWidget(self.search_button, alignment=Qt.AlignmentFlag.AlignTop)
        bottom = QHBoxLayout()
        for widget in (self.retrieve_button, self.cancel_button):
            bottom.addWidget(widget)
        bottom.addWidget(self.progress, stretch=1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.folder)
        layout.addLayout(search_row)
        layout.addWidget(self.status)
        layout.addWidget(self.table, stretch=1)
        layout.addLayout(bottom)
        self.resize(1250, 620)

        self._settings_given = settings is not None
        self.settings: NetworkSettings | None = None
        self.routes: list[Route] = []
        self._use_settings(settings if settings is not None else self._load_settings())

    def showEvent(self, event) -> None:
        """Settings from the file are read again each time the dialog is shown, so a peer added
        meanwhile (`cxrviewer pacs add-peer`) is listed; not while a job runs with the old ones."""
        if not self._settings_given and not self.runner.busy:
            self._use_settings(self._load_settings())
        super().showEvent(event)

    def _use_settings(self, settings: NetworkSettings | None) -> None:
        chosen = self.route()
        self.settings = settings
        self.routes = routes(settings) if settings is not None else []
        with QSignalBlocker(self.peer):
            self.peer.clear()
            self.peer.addItems([route.describe() for route in self.routes])
            if chosen in self.routes:
                self.peer.setCurrentIndex(self.routes.index(chosen))
        if settings is not None:
            self.folder.setText(f"Retrieved studies are written to {settings.storage_folder()}")
            if not self.routes:
                self._say(f"No PACS in the network settings ({settings_file()}); add one with "
                          "`cxrviewer pacs add-peer NAME AET HOST PORT [--dicomweb URL]`.", error=True)
            elif self._shown_route is None:
                self._say("Choose the PACS, fill in what you know of the study, and Search.")
        self._update_buttons()

    def _load_settings(self) -> NetworkSettings | None:
        try:
            return load_network_settings()
        except CxrError as error:
            self._say(str(error), error=True)
            return None

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(ERROR_STYLE if error else "")

    def _update_buttons(self) -> None:
        retrieving = self.runner.pending(RETRIEVE_JOB)
        self.search_button.setEnabled(bool(self.routes))
        self.retrieve_button.setEnabled(not retrieving and self._shown_route is not None and bool(self.table.selected()))
        self.cancel_button.setEnabled(retrieving)

    def route(self) -> Route | None:
        """The route chosen in the PACS list."""
        index = self.peer.currentIndex()
        return self.routes[index] if 0 <= index < len(self.routes) else None

    def choose(self, name: str, *, web: bool = False) -> None:
        """Choose the peer called `name`, over DICOMweb when `web`; ConfigError when there is no such route."""
        for index, route in enumerate(self.routes):
            if route.peer.name == name and route.web == web:
                self.peer.setCurrentIndex(index)
                return
        raise ConfigError(f"no PACS {name!r} over {'DICOMweb' if web else 'DIMSE'} in the network settings")

    # -- search ----------------------------------------------------------------------------------
    def search(self) -> bool:
        """Search the chosen PACS in a worker (a newer search replaces a running one); False, with the
        reason shown, when the fields do not make a query."""
        route = self.route()
        if route is None:
            return False
        try:
            query = self.form.query()
        except CxrError as error:
            self._say(f"To search: {error}.", error=True)
            return False
        calling_ae = self.settings.ae_title
        self._say(f"Searching {route.describe()}…")
        self.runner.submit(SEARCH_JOB, lambda token: (route, find(route, query, calling_ae)))
        return True

    def _show_results(self, route: Route, matches: list[StudyMatch]) -> None:
        self._shown_route = route
        self.table.show_matches(matches)
        how = RETRIEVALS[route.retrieval]
        self._say(f"{len(matches)} stud{'y' if len(matches) == 1 else 'ies'} at {route.describe()}"
                  + (f". Select and Retrieve ({how})." if matches else "."))
        self._update_buttons()
        self.searched.emit(len(matches))

    def _search_failed(self, message: str) -> None:
        self._shown_route = None
        self.table.clear_matches()  # results of another search would read as this peer's
        self._say(f"Search failed: {message}", error=True)
        self._update_buttons()
        self.search_failed.emit(message)

    # -- retrieval -------------------------------------------------------------------------------
    def retrieve(self) -> bool:
        """Retrieve the selected studies from the PACS that found them, one after the other, in a
        worker; False when nothing is selected or a retrieval is running."""
        studies, route = self.table.selected(), self._shown_route
        if not studies or route is None or self.runner.pending(RETRIEVE_JOB):
            return False
        settings, folder = self.settings, self.settings.storage_folder()
        file_written, study_done = self._file_written.emit, self._study_done.emit

        def work(token: CancelToken) -> None:
            for study in studies:
                if token.cancelled:
                    study_done(study.study_uid, [], CANCELLED)
                    continue
                try:
                    files = retrieve(route.peer, study.study_uid, route.retrieval, settings, folder,
                                     on_file=lambda _path: file_written())
                except (CxrError, OSError) as error:
                    study_done(study.study_uid, [], str(error))
                    continue
                study_done(study.study_uid, [str(p) for p in files],
                           "" if files else f"nothing received from {route.describe()}")

        for study in studies:
            self.table.set_outcome(study.study_uid, "waiting", failed=False)
        self._open = [study.study_uid for study in studies]
        self._retrieved, self._failures, self._cancelled = 0, [], 0
        expected = [s.instances for s in studies]
        self._progress = (0, sum(expected) if None not in expected else 0)
        self.progress.setRange(0, self._progress[1])
        self.progress.setValue(0)
        self._say(f"Retrieving {len(studies)} stud{'y' if len(studies) == 1 else 'ies'} by "
                  f"{RETRIEVALS[route.retrieval]} from {route.describe()} into {folder}…")
        self._retrieval = self.runner.submit(RETRIEVE_JOB, work)
        self._update_buttons()
        return True

    def cancel_retrieval(self) -> None:
        """Stop after the study being retrieved; what is already on disk is kept and announced."""
        if self._retrieval is not None and self.runner.pending(RETRIEVE_JOB):
            self._retrieval.cancel()
            self.cancel_button.setEnabled(False)
            self._say("Cancelling after the study being retrieved…")

    def _on_file_written(self) -> None:
        done, expected = self._progress
        self._progress = (done + 1, expected)
        if expected:
            self.progress.setValue(min(done + 1, expected))
        self.progress.setFormat(f"{_files(done + 1)}" + (f" of {expected}" if expected else ""))

    def _on_study_done(self, study_uid: str, files: list, error: str) -> None:
        if self.runner.pending(RETRIEVE_JOB):  # else shut down: the owner no longer listens
            self._record(study_uid, files, error)

    def _record(self, study_uid: str, files: list[str], error: str) -> None:
        """One study's outcome: in its row, in the counts, and its files announced."""
        if study_uid not in self._open:
            return
        self._open.remove(study_uid)
        if error == CANCELLED:
            self.table.set_outcome(study_uid, CANCELLED, failed=False)
            self._cancelled += 1
            return
        if error:
            log.warning("retrieving study %s: %s", study_uid, error)
            self.table.set_outcome(study_uid, f"failed: {error}", failed=True, detail=error)
            self._failures.append(f"study {study_uid}: {error}")
            self._say(f"Study {study_uid} not retrieved: {error}", error=True)
            return
        self._retrieved += 1
        self.table.set_outcome(study_uid, _files(len(files)), failed=False,
                               detail="\n".join(files[:20]) + ("\n…" if len(files) > 20 else ""))
        self.studies_retrieved.emit([Path(p) for p in files])

    def _finish_retrieval(self, problem: str = "") -> None:
        """The job ended; `problem`: why it stopped early ("" when it went through every study)."""
        cancelled = self._retrieval is not None and self._retrieval.cancelled
        for study_uid in list(self._open):  # the job stopped before it reached them
            self._record(study_uid, [], CANCELLED if cancelled else f"retrieval stopped: {problem}")
        self._retrieval = None
        retrieved, asked = self._retrieved, self._retrieved + len(self._failures) + self._cancelled
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if retrieved else 0)
        summary = (f"Retrieved {retrieved} of {asked} stud{'y' if asked == 1 else 'ies'} into "
                   f"{self.settings.storage_folder()}" + (f"; {self._cancelled} cancelled." if self._cancelled else "."))
        if self._failures:
            self._say(f"{summary} Not retrieved: " + "; ".join(self._failures), error=True)
        else:
            self._say(summary)
        self._update_buttons()
        self.retrieval_finished.emit(retrieved, asked)

    # -- outcomes of the jobs --------------------------------------------------------------------
    def _on_job_done(self, job_id: int, result) -> None:
        if job_id == SEARCH_JOB:
            self._show_results(*result)
        elif job_id == RETRIEVE_JOB:
            self._finish_retrieval()

    def _on_job_failed(self, job_id: int, message: str) -> None:
        if job_id == SEARCH_JOB:
            self._search_failed(message)
        elif job_id == RETRIEVE_JOB:
            self._finish_retrieval(message)

    def shutdown(self) -> None:
        """Drop the outcomes of running jobs and wait (up to 5 s) for them to end."""
        self.runner.cancel_all()
        self.runner.wait(5000)
