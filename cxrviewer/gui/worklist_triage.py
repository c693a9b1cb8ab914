"""Background triage of every study in the worklist, one study at a time, behind the study shown.

Each job reads one study file and runs the gate, the classifiers and the TB lesion model on it
(`analysis.triage.triage_study`), in a one-thread pool. The study on screen keeps priority: while
the window's analysis service is busy with it, no triage job starts (a running one finishes; it
takes a fraction of a second per model), and the service's results for the shown study fill the
worklist directly. Studies are triaged in the order they were opened.

Signals mirror the analysis service's, so the worklist reads both the same way. `card` gives the
worklist each model's card (its readable name and population), read once per model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from cxrviewer import paths
from cxrviewer.analysis import pipeline
from cxrviewer.analysis.triage import TriageOutcome, triage_steps, triage_study
from cxrviewer.core.cards import ModelCard, card_path, load_card
from cxrviewer.core.errors import ModelError
from cxrviewer.gui.workers import JobRunner

log = logging.getLogger(__name__)

BUSY_RETRY_MS = 150  # how soon to look again whether the shown study's analysis has finished

Triage = Callable[..., list[TriageOutcome]]


class TriageRunner(QObject):
    result_ready = Signal(object, str, object, object)  # study, kind, model, payload
    step_failed = Signal(object, str, object, str)  # study, kind, model, message naming the model
    study_started = Signal(object)
    study_finished = Signal(object, str)  # study, "" or why the file could not be read again

    def __init__(self, parent: QObject | None = None, *, models_dir: Path | None = None,
                 max_megapixels: float | None = None, busy: Callable[[], bool] = lambda: False,
                 triage: Triage = triage_study, roles: pipeline.ModelRoles | None = None,
                 cards: dict[str, ModelCard] | None = None):
        """busy: true while the study shown is being analysed (no triage job starts then).
        triage: the job, `analysis.triage.triage_study` or a stand-in with its signature.
        roles: the models to triage with (default: read from the installed models' cards).
        cards: the models' cards by name (default: read from the models folder when first asked)."""
        super().__init__(parent)
        self._cards: dict[str, ModelCard | None] = dict(cards) if cards is not None else {}
        self._read_cards = cards is None
        self._models_dir, self._max_megapixels, self._busy, self._triage = models_dir, max_megapixels, busy, triage
        self.runner = JobRunner(max_threads=1, parent=self)
        self.runner.succeeded.connect(self._on_done)
        self.runner.failed.connect(lambda job, message: self._on_done(job, message))
        self._queue: list[tuple[object, Path]] = []
        self._running: tuple[int, object] | None = None
        self._next_job = 0
        self._retry = QTimer(self, singleShot=True, interval=BUSY_RETRY_MS, timeout=self._pump)
        self.roles = roles if roles is not None else pipeline.model_roles(self.models_dir)

    @property
    def models_dir(self) -> Path:
        return self._models_dir if self._models_dir is not None else paths.models_dir()

    def card(self, model: str) -> ModelCard | None:
        """The card of `model` (its files not verified: loading the model does that); None when it
        cannot be read, which is logged."""
        if model not in self._cards and self._read_cards:
            try:
                self._cards[model] = load_card(card_path(self.models_dir, model), verify_files=False)
            except (OSError, ModelError) as error:
                log.warning("worklist: no card for model %s: %s", model, error)
                self._cards[model] = None
        return self._cards.get(model)

    def forget_cards(self) -> None:
        """The installed models changed: read their cards again when next asked."""
        if self._read_cards:
            self._cards.clear()

    def steps(self) -> list[tuple[str, str]]:
        """(kind, model) of what a triaged study gets."""
        return triage_steps(self.roles)

    @property
    def running(self) -> object | None:
        """The study being triaged now, if any."""
        return self._running[1] if self._running is not None else None

    @property
    def pending(self) -> int:
        return len(self._queue) + (self._running is not None)

    def enqueue(self, study: object, path: Path) -> None:
        self._queue.append((study, Path(path)))
        self._pump()

    def discard(self, study: object) -> None:
        """Do not triage `study` (it is analysed already); a job already running for it finishes."""
        self._queue = [(s, p) for s, p in self._queue if s != study]

    def shutdown(self) -> None:
        self._queue.clear()
        self._retry.stop()
        self._running = None
        self.runner.cancel_all()
        self.runner.wait()

    def _pump(self) -> None:
        if self._running is not None or not self._queue:
            return
        if self._busy():
            self._retry.start()
            return
        study, path = self._queue.pop(0)
        self._next_job += 1
        self._running = (self._next_job, study)
        roles, folder, limit, triage = self.roles, self._models_dir, self._max_megapixels, self._triage
        self.study_started.emit(study)
        self.runner.submit(self._next_job, lambda token: triage(path, roles, folder, limit,
                                                                lambda: token.cancelled))

    def _on_done(self, job: int, outcome: list[TriageOutcome] | str) -> None:
        if self._running is None or self._running[0] != job:
            return
        study = self._running[1]
        self._running = None
        if isinstance(outcome, str):
            log.warning("triage of study %s: %s", study, outcome)
            self.study_finished.emit(study, outcome)
        else:
            for result in outcome:
                if result.error:
                    self.step_failed.emit(study, result.kind, result.model, result.error)
                else:
                    self.result_ready.emit(study, result.kind, result.model, result.payload)
            self.study_finished.emit(study, "")
        self._pump()
