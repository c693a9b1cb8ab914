"""Results sent back to the PACS from the viewer, in a worker: each study's SR, SEG and SC made by
the one path (`analysis.dicom_results.study_objects`) and sent through the outbox
(`net.outbox.send_through_outbox`), as `cxrviewer analyze --send` does; and the outbox retried.

Nothing is dropped: what the PACS did not confirm stays in the outbox with the error, for the next
send, the Retry of the Outbox window, or the timer of `gui.network_actions`. Each study's outcome is
announced as soon as it is known (`study_done`), in words for the status bar.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from cxrviewer.analysis.dicom_results import study_objects
from cxrviewer.core.errors import CxrError
from cxrviewer.core.export import ExportContent
from cxrviewer.gui.workers import CancelToken, JobRunner
from cxrviewer.net.outbox import RetryReport, outbox_folder, retry, send_through_outbox
from cxrviewer.net.settings import NetworkSettings

log = logging.getLogger(__name__)

SEND_JOB, RETRY_JOB = 1, 2


def object_kind(ds) -> str:
    """SR, SEG, or SC (the Secondary Capture keeps the source's modality)."""
    return ds.Modality if ds.Modality in ("SR", "SEG") else "SC"


def outcome_words(name: str, kinds: dict[str, str], report: RetryReport, peer: str) -> tuple[str, bool]:
    """(what became of one study's objects {SOP instance UID: kind}, True when all were stored)."""
    stored = [kinds[e.path.stem] for e in report.sent if e.path.stem in kinds]
    kept = [e for e in report.kept if e.path.stem in kinds]
    if not kept:
        return f"{name}: {', '.join(stored)} stored at {peer}", True
    text = f"{name}: {len(kept)} object(s) kept in the outbox ({kept[0].error})"
    return (f"{text}; {', '.join(stored)} stored" if stored else text), False


class ResultsSender(QObject):
    """One job at a time (a send or a retry); `outbox`: default the site's (`net.outbox.outbox_folder`)."""

    study_done = Signal(str, bool)  # one study's outcome in words, True when the PACS stored everything
    finished = Signal(str)  # the job's summary
    outbox_changed = Signal()  # entries were queued, sent or kept
    _study_done = Signal(str, bool)  # from the worker

    def __init__(self, parent: QObject | None = None, *, outbox: Path | None = None, models_dir: Path | None = None):
        super().__init__(parent)
        self.outbox = Path(outbox) if outbox is not None else outbox_folder()
        self.models_dir = models_dir
        self.runner = JobRunner(max_threads=1, parent=self)
        self.runner.succeeded.connect(self._on_finished)
        self.runner.failed.connect(lambda _job, message: self._on_finished(_job, f"not sent: {message}"))
        self._study_done.connect(self.study_done)
        self._study_done.connect(lambda *_: self.outbox_changed.emit())

    @property
    def busy(self) -> bool:
        return self.runner.busy

    def send(self, studies: Sequence[tuple[Path, ExportContent | None]], peer: str, settings: NetworkSettings,
             anonymise: bool) -> bool:
        """Send each (study file, its view or None for its own default view) to `peer`; False while
        another job runs."""
        if self.busy:
            return False
        outbox, models_dir, announce = self.outbox, self.models_dir, self._study_done.emit

        def work(token: CancelToken) -> str:
            delivered = 0
            for path, view in studies:
                if token.cancelled:
                    break
                try:
                    objects = study_objects(path, models_dir, anonymise, view)
                except CxrError as error:
                    announce(f"{path.name}: not sent: {error}", False)
                    continue
                report = send_through_outbox(outbox, objects, peer, settings)
                text, stored = outcome_words(path.name, {ds.SOPInstanceUID: object_kind(ds) for ds in objects},
                                             report, peer)
                log.info("%s", text)
                announce(text, stored)
                delivered += stored
            return f"results of {delivered} of {len(studies)} stud{'y' if len(studies) == 1 else 'ies'} stored at {peer}"

        self.runner.submit(SEND_JOB, work)
        return True

    def retry(self, settings: NetworkSettings) -> bool:
        """Send everything waiting in the outbox; False while another job runs."""
        if self.busy:
            return False
        outbox = self.outbox
        self.runner.submit(RETRY_JOB, lambda _token: retry(outbox, settings).describe().splitlines()[0])
        return True

    def _on_finished(self, _job: int, summary: str) -> None:
        self.outbox_changed.emit()
        self.finished.emit(summary)

    def shutdown(self) -> None:
        """Stop after the study being sent (what is queued stays in the outbox) and wait for it."""
        self.runner.cancel_all()
        self.runner.wait()
