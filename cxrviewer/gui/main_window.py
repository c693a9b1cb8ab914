"""The main window, and the one place its parts are built and wired: worklist, canvas, findings,
layers and tag docks, status bar, menus and keys.

The data flows session → worklist and canvas → analysis service → findings, layers and worklist;
`_wire` connects it in that order, so nothing depends on which part happened to subscribe first.
Each part is built here and given what it needs; none replaces another's methods or looks a menu up
by its text. What the menus and keys do lives with their parts: the Models and Tools menus in
`gui.tools_menus`, the view keys in `gui.view_keys`, the layers in `gui.layer_controller`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QMainWindow, QWidget

from cxrviewer.core.viewstate import ViewState
from cxrviewer.gui.analysis_service import AnalysisService
from cxrviewer.gui.canvas import Canvas
from cxrviewer.gui.export_actions import ExportActions
from cxrviewer.gui.findings_panel import FindingsPanel
from cxrviewer.gui.layer_controller import LayerController
from cxrviewer.gui.layer_panel import LayerPanel
from cxrviewer.gui.network_actions import NetworkActions
from cxrviewer.gui.prior_compare import PriorComparison
from cxrviewer.gui.reading_layout import ReadingLayout
from cxrviewer.gui.recent_menu import RecentMenu
from cxrviewer.gui.session import LoadedStudy, StudySession
from cxrviewer.gui.shortcuts import BINDINGS, PRESET_KEYS, HelpDialog
from cxrviewer.gui.status_bar import ViewerStatusBar
from cxrviewer.gui.tag_browser import TagBrowser
from cxrviewer.gui.tools_menus import ToolsMenus
from cxrviewer.gui.view_keys import ViewKeys
from cxrviewer.gui.worklist import Worklist, worklist_actions
from cxrviewer.gui.worklist_triage import TriageRunner

log = logging.getLogger(__name__)

RULER_PREFIX = "ruler: "
IMAGE_FILTER = "Studies (*.dcm *.dicom *.DCM *.png *.jpg *.jpeg *.tif *.tiff DICOMDIR);;All files (*)"
# The worklist dock keeps the object name the saved layouts know it by (it was the "Studies" dock).
WORKLIST_DOCK_NAME = "Studies"


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None, max_megapixels: float | None = None, *,
                 triage: TriageRunner | None = None, user_data: Path | None = None):
        """triage: the worklist's background scorer (default: one on the installed models, which waits
        while the shown study is being analysed and follows the analysis service's models when they
        change; a given one keeps its own models). user_data: where the reading stores of read-only
        folders go (default `core.reading_store.user_data_dir()`). Tests give stand-ins for both."""
        super().__init__()
        self.settings = settings if settings is not None else QSettings("cxrviewer", "cxrviewer")
        self.setWindowTitle("cxrviewer")
        self.setAcceptDrops(True)
        self.session = StudySession(max_megapixels, parent=self)
        self.canvas = Canvas()
        self.canvas.setAcceptDrops(False)  # drops over the image go to the window
        self.prior_compare = PriorComparison(self.canvas, self.session, parent=self)
        self.setCentralWidget(self.prior_compare.view)  # the canvas, split beside the prior on demand
        self.analysis = AnalysisService(self)  # the shown study's analysis: findings, layers and worklist listen
        follows_service_models = triage is None
        if triage is None:
            triage = TriageRunner(max_megapixels=max_megapixels, busy=lambda: self.analysis.busy)
        self.worklist = Worklist(triage=triage, user_data=user_data, settings=self.settings)
        self.tag_browser = TagBrowser()
        self.findings_panel = FindingsPanel(service=self.analysis, settings=self.settings)
        self.layer_panel = LayerPanel()
        self.layers = LayerController(self.canvas, self.layer_panel, self.settings, parent=self)
        worklist = self._add_dock("Worklist", self.worklist, Qt.DockWidgetArea.LeftDockWidgetArea,
                                  name=WORKLIST_DOCK_NAME)
        findings = self._add_dock("Findings", self.findings_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        layers = self._add_dock("Layers", self.layer_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        tags = self._add_dock("DICOM tags", self.tag_browser, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(layers, tags)
        layers.raise_()
        self.resizeDocks([findings, layers], [3, 2], Qt.Orientation.Vertical)
        # The right-hand docks wide enough for the layer controls (they scroll sideways if made narrower).
        right = max(290, self.layer_panel.width_to_fit())
        self.resizeDocks([worklist, findings], [400, right], Qt.Orientation.Horizontal)
        self.status = ViewerStatusBar()
        self.setStatusBar(self.status)
        self.actions_by_name: dict[str, QAction] = {}
        self.layout_keeper = ReadingLayout(self, self.settings)
        self._build_actions()
        self._wire(follows_service_models)
        self.layout_keeper.panels_menu(self.view_menu)
        self.layout_keeper.restore()

    def _wire(self, follows_service_models: bool) -> None:
        """Every connection between the parts, in the order the data flows."""
        session, worklist, analysis = self.session, self.worklist, self.analysis
        # Studies found and read fill the worklist; the one the reader picks is shown.
        session.study_added.connect(worklist.add_study)
        session.study_loaded.connect(worklist.study_loaded)
        session.study_failed.connect(worklist.study_failed)
        session.files_skipped.connect(self._on_files_skipped)
        worklist.study_activated.connect(session.select)
        session.current_changed.connect(self._on_current_changed)
        session.current_changed.connect(worklist.show_current)
        session.current_ready.connect(self._show_study)
        session.current_ready.connect(lambda study, _loaded, _state: worklist.reading.mark_viewed(study))
        session.current_failed.connect(self._show_failure)
        # After the canvas has shown the study (or its failure): the exports follow what it shows.
        session.current_ready.connect(self.export_actions.update_enabled)
        session.current_failed.connect(self.export_actions.update_enabled)
        # The prior comparison: each study read is a candidate prior; while comparing, the shown
        # study's prior follows it (after the canvas has shown the study).
        prior = self.prior_compare
        session.study_loaded.connect(prior.record)
        session.study_failed.connect(prior.study_failed)
        session.current_ready.connect(prior.show_current)
        session.current_failed.connect(prior.current_failed)
        session.fetched.connect(prior.fetched)
        prior.message.connect(lambda text: self.status.showMessage(text, 15000))
        # The canvas and what the reader points at.
        self.canvas.probe_changed.connect(self._on_probe)
        self.canvas.view_changed.connect(lambda: self.status.show_view(self.canvas.state, self.canvas.image))
        self.canvas.ruler_changed.connect(self._on_ruler_changed)
        # The shown study's analysis: the findings panel listens from its construction, then the
        # layers, then the worklist, whose row for the shown study the service's results fill.
        self.layers.attach_service(analysis)
        self.findings_panel.class_selected.connect(self.layers.select_class_index)
        self.layers.attach_findings(self.findings_panel)
        worklist.attach_results(analysis)
        analysis.progress.connect(self._on_analysis_progress)
        analysis.progress.connect(worklist.on_service_progress)
        if follows_service_models:
            analysis.models_changed.connect(lambda: worklist.refresh_roles(analysis.roles))
        analysis.provider_changed.connect(self.status.show_provider)
        self.status.show_provider(analysis.provider)
        # Messages for the status bar.
        self.layers.message.connect(lambda text: self.status.showMessage(text, 10000))
        worklist.message.connect(lambda text: self.status.showMessage(text, 15000))
        # Studies that arrive over the network (received, retrieved) join the worklist; then the
        # storage service starts if the network settings ask for it, its state in the status bar.
        self.network.studies_arrived.connect(self.add_arrived)
        self.network.message.connect(lambda text: self.status.showMessage(text, 15000))
        self.network.service_state.connect(self.status.show_network)
        self.network.start()

    # -- opening ---------------------------------------------------------------------------------
    def open_paths(self, paths: Iterable[str | Path], *, remember: bool = True) -> None:
        paths = [Path(p) for p in paths]
        if not paths:
            return
        if remember:
            self.recent_menu.remember(paths)
        self.worklist.add_roots(paths)
        self.session.open_paths(paths)

    def add_arrived(self, files: list[Path], folder: Path) -> None:
        """Studies received or retrieved: into the worklist (reading state in `folder`'s store) and
        triaged, the shown study left on screen."""
        self.worklist.add_roots([folder])
        self.session.open_paths(files, show=False)

    def _open_file_dialog(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open studies", self.recent_menu.last_folder(), IMAGE_FILTER)
        self.open_paths(files)

    def _open_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of studies", self.recent_menu.last_folder())
        if folder:
            self.open_paths([folder])

    def recent_paths(self) -> list[str]:
        return self.recent_menu.paths()

    def dragEnterEvent(self, event):  # noqa: N802 (Qt's name)
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802 (Qt's name)
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # -- session -> widgets ----------------------------------------------------------------------
    def _on_current_changed(self, _study: int) -> None:
        if self.canvas.state is not None:
            self.canvas.show_message("Loading…")

    def _show_study(self, study: int, loaded: LoadedStudy, state: ViewState) -> None:
        self.canvas.show_study(loaded.image, loaded.indexed, state)
        self.tag_browser.show_tags(loaded.image.meta.tags)
        # The layers switch to the study before the analysis is asked for it: the service replays the
        # study's cached results at once, and they must land in the switched layers, not be cleared
        # by a switch that comes after them (the shown study opened again lost its lesion layer).
        self.layers.show_study(study, loaded, state)
        self.analysis.analyse(study, loaded.image.pixels, loaded.image.meta)
        self.setWindowTitle(f"cxrviewer — {loaded.image.meta.path.name}")
        self.status.show_view(state, loaded.image)
        notes = "; ".join(loaded.image.meta.notes)
        self.status.showMessage(f"{loaded.image.meta.path.name}" + (f": {notes}" if notes else ""), 10000)

    def _show_failure(self, study: int, message: str) -> None:
        self.canvas.show_message(f"Cannot show this study:\n{message}")
        self.tag_browser.show_tags(())
        self.layers.clear()
        self.analysis.clear()
        self.setWindowTitle("cxrviewer")
        self.status.showMessage(message)

    def _on_analysis_progress(self, study: int, done: int, total: int) -> None:
        if study == self.analysis.study:
            self.status.show_analysis(done, total)

    def _on_files_skipped(self, skipped: list) -> None:
        for path, reason in skipped:
            log.info("skipped %s: %s", path, reason)
        self.status.showMessage(f"{len(skipped)} file(s) in the folder(s) are not images and were skipped", 10000)

    def _on_ruler_changed(self, label: str) -> None:
        if label:
            self.status.showMessage(f"{RULER_PREFIX}{label}")
        elif self.status.currentMessage().startswith(RULER_PREFIX):
            self.status.clearMessage()  # the ruler is gone: so is its length

    # -- actions ---------------------------------------------------------------------------------
    def _build_actions(self) -> None:
        self.view_keys = ViewKeys(self.canvas, self.prior_compare, self.status)
        handlers = {
            "open_file": self._open_file_dialog,
            "open_folder": self._open_folder_dialog,
            "quit": self.close,
            "next_study": lambda: self.worklist.step(1),
            "previous_study": lambda: self.worklist.step(-1),
            **self.view_keys.handlers(),
            "ruler_tool": lambda: self.canvas.set_ruler_tool(self.actions_by_name["ruler_tool"].isChecked()),
            "help": lambda: HelpDialog(self).exec(),
            "toggle_soft_tissue": lambda: self.layers.toggle_base(),
            "toggle_layers": lambda: self.layers.toggle_layers(),
            "reading_mode": lambda: self.layout_keeper.toggle_reading_mode(),
            "toggle_panels": lambda: self.layout_keeper.toggle_panels(),
            "toggle_film_text": lambda: self.canvas.film_text.toggle(),
            "compare_prior": lambda: self.prior_compare.toggle(),
        }
        file_menu = self.menuBar().addMenu("&File")
        view_menu = self.view_menu = self.menuBar().addMenu("&View")
        help_menu = self.menuBar().addMenu("&Help")
        self.tools = ToolsMenus(self, self.analysis, self.status)
        for menu in self.tools.menus():
            self.menuBar().insertMenu(help_menu.menuAction(), menu)
        self.actions_by_name.update(self.tools.actions)
        for binding in BINDINGS:
            action = QAction(binding.text, self)
            action.setShortcuts([QKeySequence(key) for key in binding.keys])
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(handlers[binding.name])
            self.addAction(action)
            self.actions_by_name[binding.name] = action
            menu = {"open_file": file_menu, "open_folder": file_menu, "quit": file_menu, "help": help_menu}
            menu.get(binding.name, view_menu).addAction(action)
        self.actions_by_name["ruler_tool"].setCheckable(True)
        self.recent_menu = RecentMenu(self.settings, self.open_paths, self)
        file_menu.insertMenu(self.actions_by_name["quit"], self.recent_menu)
        file_menu.insertSeparator(self.actions_by_name["quit"])
        self.network = NetworkActions(self)
        file_menu.insertActions(self.actions_by_name["quit"], self.network.menu_entries())
        file_menu.insertSeparator(self.actions_by_name["quit"])
        self.actions_by_name.update(self.network.actions)
        for number, key in enumerate(PRESET_KEYS):
            action = QAction(f"Window preset {key}", self)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(lambda _checked=False, n=number: self.view_keys.apply_preset(n))
            self.addAction(action)
        quit_action = self.actions_by_name["quit"]
        self.export_actions = ExportActions(self)
        file_menu.insertActions(quit_action, list(self.export_actions.actions.values()))
        file_menu.insertSeparator(quit_action)
        file_menu.aboutToShow.connect(self.export_actions.update_enabled)
        self.actions_by_name.update(self.export_actions.actions)
        for name, action in worklist_actions(self.worklist, self).items():
            self.addAction(action)
            self.actions_by_name[name] = action
            if name == "export_reading_csv":
                file_menu.insertAction(quit_action, action)
            else:
                view_menu.addAction(action)

    # -- layers ----------------------------------------------------------------------------------
    def composed_view(self) -> npt.NDArray[np.uint8] | None:
        """(H', W', 3) uint8, what the canvas shows: the base at the current window/level plus the
        visible layers through core.display.compose.compose, flipped and rotated as on screen
        (the whole image, not the zoomed part); None without a study."""
        return self.layers.composed_view()

    def _on_probe(self, probe) -> None:
        self.status.show_probe(probe, self.canvas.image)
        self.status.show_layer_values(self.layers.values_at(probe.row, probe.column) if probe is not None else [])

    def visible_layer_summary(self) -> list[str]:
        """"Base: …", then one line per layer drawn: name, model/class, threshold, opacity, colour
        map, normalisation (for reports)."""
        return self.layers.visible_layer_summary()

    def _add_dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea, *,
                  name: str | None = None) -> QDockWidget:
        """A dock titled `title`; `name` (default: the title) is what saved layouts know it by."""
        dock = QDockWidget(title, self)
        dock.setObjectName(name or title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def keyPressEvent(self, event):  # noqa: N802 (Qt's name)
        if event.key() == Qt.Key.Key_Escape and self.layout_keeper.reading:
            self.layout_keeper.leave_reading_mode()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event):  # noqa: N802 (Qt's name)
        self.network.shutdown()  # stops receiving first: nothing new arrives while the rest shuts down
        self.worklist.shutdown()  # commits the note being typed and stops the triage
        self.layout_keeper.save()
        self.session.shutdown()
        self.analysis.shutdown()
        self.tools.shutdown()
        # The compare window is a top-level window of its own: left open, it would keep the
        # application running after the reader closed the viewer.
        if self.layers.compare_window is not None:
            self.layers.compare_window.close()
        super().closeEvent(event)
