"""The viewer's storage service: the same C-STORE SCP as `cxrviewer listen` (`net.storage`), run in the
background while the network settings ask for it, its news turned into Qt signals in the UI thread.

The server's threads (one per association, and the study grouper's) never touch a widget: they emit
the private signals below, which Qt queues to this object's thread. Each study is announced once it
is quiet (`net.received`), with only the files not announced before, so a study that arrives in
several associations joins the worklist once and grows when more of it arrives.
"""

from __future__ import annotations

import errno
import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from cxrviewer.net.received import QUIET_SECONDS, ReceivedStudy
from cxrviewer.net.settings import NetworkSettings
from cxrviewer.net.storage import StorageServer

log = logging.getLogger(__name__)


def listen_problem(port: int, error: OSError) -> str:
    """Why the service could not listen on `port`, in plain words."""
    if error.errno == errno.EADDRINUSE:
        return f"port {port} is already in use by another program (is `cxrviewer listen` running?)"
    if error.errno == errno.EACCES:
        return f"port {port} needs administrator rights (ports below 1024); choose another in the network settings"
    return f"port {port}: {error.strerror or error}"


def study_words(study: ReceivedStudy, new: int) -> str:
    """A received study for the status bar: who sent it, whose it is, and what cannot be shown."""
    first = study.instances[0]
    patient = first.patient_name.replace("^", " ").strip() or first.patient_id or "no patient ID"
    text = (f"received from {', '.join(study.senders)}: {patient}, {first.modality or 'no modality'}, "
            f"{new} new image{'' if new == 1 else 's'} (study {study.study_uid})")
    unshown = [i for i in study.instances if i.problem]
    if unshown:
        text += f"; {len(unshown)} cannot be shown: {unshown[0].problem}"
    return text


class StudyReceiver(QObject):
    """Owns at most one StorageServer; `start(settings)` and `stop()` from the UI thread."""

    study_received = Signal(object, object, str)  # new files (list[Path]), the storage folder, words for the reader
    state_changed = Signal(str, bool)  # what the service is doing, for the status bar; True: an error
    refused = Signal(str)  # a sender that was not allowed, in words
    _study = Signal(object)  # from the grouper's thread
    _refusal = Signal(object)  # from an association's thread

    def __init__(self, parent: QObject | None = None, *, quiet_seconds: float = QUIET_SECONDS):
        super().__init__(parent)
        self.quiet_seconds = quiet_seconds
        self.server: StorageServer | None = None
        self._announced: set[Path] = set()
        self._study.connect(self._on_study)
        self._refusal.connect(lambda refusal: self.refused.emit(refusal.describe()))

    @property
    def listening(self) -> bool:
        return self.server is not None

    def start(self, settings: NetworkSettings) -> bool:
        """Listen as the settings say (a running service is restarted with them); False, with the
        reason in `state_changed`, when the port cannot be had."""
        self.stop()
        folder = settings.storage_folder()
        try:
            self.server = StorageServer(settings.ae_title, settings.port, folder, settings.allowed,
                                        on_study=self._study.emit, on_refused=self._refusal.emit,
                                        quiet_seconds=self.quiet_seconds)
        except OSError as error:
            problem = listen_problem(settings.port, error)
            log.error("storage service not started: %s", problem)
            self.state_changed.emit(f"not receiving: {problem}", True)
            return False
        text = f"receiving as {settings.ae_title} on port {self.server.port}"
        if not settings.allowed:  # listening, but every association will be refused
            text += "; no sender is allowed yet (`cxrviewer pacs settings --allow AET@HOST`)"
        self.state_changed.emit(text, False)
        log.info("%s, from %s, into %s", text, ", ".join(f"{s.ae_title}@{s.host}" for s in settings.allowed) or "nobody",
                 folder)
        return True

    def stop(self) -> None:
        """Stop listening; studies still arriving when it stops are on disk but not announced."""
        server, self.server = self.server, None
        if server is None:
            return
        self._study.disconnect(self._on_study)  # the grouper reports what is pending as it closes
        try:
            server.close()
        finally:
            self._study.connect(self._on_study)
        self.state_changed.emit("", False)

    def _on_study(self, study: ReceivedStudy) -> None:
        if self.server is None:
            return  # queued before the service stopped
        new = [i.path for i in study.instances if i.path not in self._announced]
        if not new:
            return
        self._announced.update(new)
        self.study_received.emit(new, self.server.folder, study_words(study, len(new)))
