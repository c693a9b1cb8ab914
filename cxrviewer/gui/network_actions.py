"""The viewer's side of the reading room's network (issue 19): the File menu's PACS…, Receive from the
network, Send results to PACS, Send all reviewed to PACS, Send results to ▸ (the peer) and Outbox…,
and the parts behind them: the PACS dialog (one instance), the storage service (`gui.receiver`),
the results sender and the outbox window.

`NetworkActions(window)` makes the actions for the window to place and reads what to send through
the window's public parts (the canvas's study, the export content and its Anonymise option, the
worklist's reading state), as `gui.export_actions` does. It never opens a study: studies that
arrive (received, or retrieved in the dialog) are announced by `studies_arrived`, and the window
puts them in its worklist without taking the shown study away.

"Reviewed" is the reader's mark that a study is read (the reading box's Reviewed tick or Ctrl+Enter,
the worklist's Reviewed column), not "viewed" (merely on screen): Send all reviewed sends exactly the
studies marked, and says so when none is. The network settings (`net.settings`) are read again at each use, so a peer added with
`cxrviewer pacs add-peer` while the viewer runs is used; the receive toggle is kept there
(`receive_in_viewer`), the chosen peer in the window's settings.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from cxrviewer.core.errors import CxrError
from cxrviewer.gui.export_actions import gather_content
from cxrviewer.gui.outbox_dialog import OutboxDialog
from cxrviewer.gui.receiver import StudyReceiver
from cxrviewer.gui.results_sender import ResultsSender
from cxrviewer.net.outbox import pending
from cxrviewer.net.settings import (
    NetworkSettings,
    load_network_settings,
    save_network_settings,
    settings_file,
)

log = logging.getLogger(__name__)

PEER_KEY = "network/send_peer"
RETRY_MS = 5 * 60 * 1000  # the outbox is tried again this often while something waits in it


def reviewed_studies(worklist) -> list[Path]:
    """The studies of the worklist the reader marked reviewed (its Reviewed column), in table order."""
    states, rows = worklist.reading.states, worklist.model.rows
    return [rows[study].path for study in worklist.visible_order()
            if not rows[study].load_error and study in states and states[study].reviewed]


class NetworkActions(QObject):
    studies_arrived = Signal(object, object)  # list[Path] new files, Path: the folder whose reading store keeps them
    message = Signal(str)  # for the status bar
    service_state = Signal(str, bool)  # the storage service, for the status bar ("" when off); True: an error

    def __init__(self, window, *, outbox: Path | None = None, models_dir: Path | None = None):
        super().__init__(window)
        self.window = window
        self.receiver = StudyReceiver(self)
        self.sender = ResultsSender(self, outbox=outbox, models_dir=models_dir)
        self.pacs_dialog = None
        self.outbox_dialog: OutboxDialog | None = None
        self.actions: dict[str, QAction] = {}
        for name, text, handler in (
                ("pacs", "&PACS…", self.open_pacs_dialog),
                ("receive", "&Receive from the network", self._on_receive_toggled),
                ("send_results", "Send results to PACS", self.send_shown),
                ("send_reviewed", "Send all reviewed to PACS", self.send_reviewed),
                ("outbox", "Outbo&x…", self.open_outbox)):
            action = QAction(text, window)
            action.triggered.connect(handler)
            self.actions[name] = action
        self.actions["receive"].setCheckable(True)
        self.actions["receive"].setToolTip("Run the storage service (C-STORE) while the viewer is open; each "
                                           "study received joins the worklist and is triaged")
        self.actions["send_results"].setToolTip("The shown study's structured report, segmentation and the "
                                                "view as a Secondary Capture, through the outbox")
        self.actions["send_reviewed"].setToolTip("Every study of the worklist you marked Reviewed (the reading "
                                                 "box's tick, Ctrl+Enter), each with its own default view as "
                                                 "the Secondary Capture")
        self.actions["send_reviewed"].setStatusTip(self.actions["send_reviewed"].toolTip())
        self.peer_menu = QMenu("Send results &to", window)
        self.peer_menu.aboutToShow.connect(self._fill_peer_menu)
        self._peers = QActionGroup(self)
        self.receiver.study_received.connect(self._on_received)
        self.receiver.state_changed.connect(self.service_state)
        self.receiver.refused.connect(self.message)
        self.sender.study_done.connect(lambda text, _stored: self.message.emit(text))
        self.sender.finished.connect(self._on_sent)
        self.sender.outbox_changed.connect(self._on_outbox_changed)
        self._retry_timer = QTimer(self, interval=RETRY_MS, timeout=self._retry_if_waiting)

    def menu_entries(self) -> list[QAction]:
        """The File menu's entries, in order: PACS…, Receive, Send results, Send all reviewed, Send results to ▸, Outbox…."""
        actions = self.actions
        return [actions["pacs"], actions["receive"], actions["send_results"], actions["send_reviewed"],
                self.peer_menu.menuAction(), actions["outbox"]]

    def start(self) -> None:
        """Receive if the settings say so; the outbox's count in its menu entry; its retry timer."""
        settings = self._settings(quiet=True)
        on = settings is not None and settings.receive_in_viewer
        self.actions["receive"].setChecked(on)  # not triggered: no handler runs
        if on:
            self.receiver.start(settings)
        self._on_outbox_changed()
        self._retry_timer.start()

    def _settings(self, *, quiet: bool = False) -> NetworkSettings | None:
        try:
            return load_network_settings()
        except CxrError as error:
            log.error("%s", error)
            if not quiet:
                self.message.emit(str(error))
            return None

    # -- receiving -------------------------------------------------------------------------------
    def _on_receive_toggled(self, on: bool) -> None:
        settings = self._settings()
        if settings is None:
            self.actions["receive"].setChecked(False)
            return
        try:
            save_network_settings(dataclasses.replace(settings, receive_in_viewer=on))
        except OSError as error:
            self.message.emit(f"the choice is not remembered: cannot write {settings_file()} ({error.strerror})")
        if on:
            self.receiver.start(settings)
        else:
            self.receiver.stop()

    def _on_received(self, files: list[Path], folder: Path, words: str) -> None:
        self.message.emit(words)
        self.studies_arrived.emit(files, folder)

    # -- the PACS dialog -------------------------------------------------------------------------
    def open_pacs_dialog(self) -> None:
        from cxrviewer.gui.pacs_dialog import PacsDialog  # the query code loads when first asked for

        if self.pacs_dialog is None:
            self.pacs_dialog = PacsDialog(self.window)
            self.pacs_dialog.studies_retrieved.connect(self._on_retrieved)
        self.pacs_dialog.show()
        self.pacs_dialog.raise_()

    def _on_retrieved(self, files: list[Path]) -> None:
        settings = self.pacs_dialog.settings
        self.message.emit(f"retrieved {len(files)} file(s) into the worklist")
        self.studies_arrived.emit(files, settings.storage_folder())

    # -- sending ---------------------------------------------------------------------------------
    def send_peer(self, settings: NetworkSettings) -> str | None:
        """The peer results go to: the one chosen in Send results to ▸, else the first of the settings."""
        names = [peer.name for peer in settings.peers]
        chosen = str(self.window.settings.value(PEER_KEY, ""))
        return chosen if chosen in names else (names[0] if names else None)

    def _fill_peer_menu(self) -> None:
        self.peer_menu.clear()
        settings = self._settings()
        if settings is None or not settings.peers:
            self.peer_menu.addAction(f"No PACS in {settings_file()}").setEnabled(False)
            return
        chosen = self.send_peer(settings)
        for peer in settings.peers:
            action = self.peer_menu.addAction(peer.describe())
            action.setCheckable(True)
            action.setChecked(peer.name == chosen)
            action.setActionGroup(self._peers)
            action.triggered.connect(lambda _checked=False, name=peer.name: self.choose_peer(name))

    def choose_peer(self, name: str) -> None:
        self.window.settings.setValue(PEER_KEY, name)

    def _destination(self) -> tuple[NetworkSettings, str] | None:
        settings = self._settings()
        if settings is None:
            return None
        peer = self.send_peer(settings)
        if peer is None:
            self.message.emit(f"no PACS to send to in {settings_file()}: add one with `cxrviewer pacs add-peer`")
            return None
        if self.sender.busy:
            self.message.emit("results are being sent: try again when that has finished")
            return None
        return settings, peer

    def send_shown(self) -> bool:
        """The shown study's results, its Secondary Capture the view on screen; False when not sent."""
        anonymise = self.window.export_actions.anonymise
        content = gather_content(self.window, anonymise)
        if content is None:
            self.message.emit("Open a study to send its results")
            return False
        return self._send([(content.meta.path, content)], anonymise)

    def send_reviewed(self) -> bool:
        """Every study marked reviewed; False (and the status bar says why) when none is or none was sent."""
        studies = reviewed_studies(self.window.worklist)
        if not studies:
            self.message.emit("no study is marked reviewed (tick Reviewed below the worklist, or Ctrl+Enter): "
                              "nothing sent")
            return False
        return self._send([(path, None) for path in studies], self.window.export_actions.anonymise,
                          what="reviewed ")

    def _send(self, studies: list, anonymise: bool, *, what: str = "") -> bool:
        destination = self._destination()
        if destination is None:
            return False
        settings, peer = destination
        self.sender.send(studies, peer, settings, anonymise)
        count = len(studies)
        self.message.emit(f"sending the results of {count} {what}stud{'y' if count == 1 else 'ies'} to {peer}…")
        return True

    def _on_sent(self, summary: str) -> None:
        self.message.emit(summary)
        if self.outbox_dialog is not None:
            self.outbox_dialog.show_outcome(summary)

    # -- the outbox ------------------------------------------------------------------------------
    def open_outbox(self) -> None:
        if self.outbox_dialog is None:
            self.outbox_dialog = OutboxDialog(self.sender.outbox, self.window)
            self.outbox_dialog.retry_requested.connect(self.retry_outbox)
        self.outbox_dialog.show()
        self.outbox_dialog.raise_()

    def retry_outbox(self) -> bool:
        settings = self._settings()
        if settings is None or not self.sender.retry(settings):
            return False
        if self.outbox_dialog is not None:
            self.outbox_dialog.show_outcome("Sending…", busy=True)
        return True

    def _retry_if_waiting(self) -> None:
        if not self.sender.busy and pending(self.sender.outbox):
            settings = self._settings(quiet=True)
            if settings is not None:
                self.sender.retry(settings)

    def _on_outbox_changed(self) -> None:
        waiting = len(pending(self.sender.outbox))
        self.actions["outbox"].setText(f"Outbo&x ({waiting} waiting)…" if waiting else "Outbo&x…")
        if self.outbox_dialog is not None:
            self.outbox_dialog.refresh()

    def shutdown(self) -> None:
        """Stop receiving, let a running send finish its study (the rest stays queued), close the dialogs' jobs."""
        self._retry_timer.stop()
        self.receiver.stop()
        if self.pacs_dialog is not None:
            self.pacs_dialog.shutdown()
        self.sender.shutdown()
