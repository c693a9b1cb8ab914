"""The findings area: every installed classifier's reading of the study shown, and its card.

Each classifier runs on the shown study in a background job (one at a time, so loading and drawing
keep the other core). Outcomes are kept per (study, model, card version): returning to a study shows
them at once, and a reinstalled model (its card rewritten) runs again. Switching study cancels the
previous study's queued jobs; an outcome that still arrives for it is kept but not shown.
An installed gate (card task "gate") is read first: until it accepts the image, or the reader clicks
"Show anyway" (remembered for that study only), no other finding is shown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QFileSystemWatcher, Qt, QTimer, QUrl, Signal
from PySide6.QtWidgets import QLabel, QTextBrowser, QVBoxLayout, QWidget

from cxrviewer import paths
from cxrviewer.analysis.findings import Finding, classify_study
from cxrviewer.analysis.gate import GateResult, findings_visible, gate_result
from cxrviewer.core.cards import ModelCard, card_path, load_card
from cxrviewer.core.errors import ModelError
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.suitability import model_cautions, study_cautions
from cxrviewer.gui import findings_text
from cxrviewer.gui.workers import JobRunner
from cxrviewer.runtime.registry import installed_models

log = logging.getLogger(__name__)

EMPTY_TEXT = "No findings yet.\nModel findings for the current study appear here once models are available."
NO_CLASSIFIER_TEXT = "None of the installed models is a classifier, so there are no findings to list."
NO_STUDY_TEXT = "Open a study: the findings of {count} installed classifier(s) will appear here."
# A model export touches the folder several times (staging folder, files, card last): list it once after.
RESCAN_DELAY_MS = 500

Classify = Callable[[str, npt.NDArray[np.float32], Path], Finding]


@dataclass(frozen=True)
class ModelEntry:
    """An installed model as the panel lists it: its card, or why the card cannot be read."""

    name: str
    stamp: tuple[int, int]  # the card file's (size, mtime_ns): a new export rewrites the card
    card: ModelCard | None
    error: str = ""


def list_classifiers(folder: Path) -> list[ModelEntry]:
    """Classifier cards in `folder` (unreadable cards included, with their error), sorted by name."""
    entries = []
    for name in installed_models(folder):
        path = card_path(folder, name)
        try:
            stat = path.stat()
            card = load_card(path, verify_files=False)  # the checksums are verified by the job
        except (OSError, ModelError) as error:
            entries.append(ModelEntry(name, (0, 0), None, str(error)))
            continue
        if card.is_classifier:
            entries.append(ModelEntry(name, (stat.st_size, stat.st_mtime_ns), card))
    return entries


class FindingsPanel(QWidget):
    classSelected = Signal(str, str)  # noqa: N815 (Qt's naming) model name, label
    idle = Signal()  # no classifier job is queued or running

    def __init__(self, parent=None, *, models_dir: Path | None = None, classify: Classify = classify_study):
        super().__init__(parent)
        self._models_dir, self._classify = models_dir, classify
        self.empty_label = QLabel(EMPTY_TEXT, alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.empty_label.setEnabled(False)
        self.browser = QTextBrowser(openLinks=False)
        self.browser.anchorClicked.connect(self._on_anchor)
        self.browser.document().setIndentWidth(14)  # lists of limits: the dock is narrow
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.browser)
        self.runner = JobRunner(max_threads=1, parent=self)
        self.runner.succeeded.connect(lambda job, finding: self._on_done(job, finding))
        self.runner.failed.connect(lambda job, message: self._on_done(job, message))
        self.entries: list[ModelEntry] = []
        self.outcomes: dict[tuple, Finding | str] = {}  # (study, name, stamp) → Finding or error message
        self._jobs: dict[int, tuple] = {}
        self._next_job = 0
        self._study: object | None = None
        self._pixels: npt.NDArray[np.float32] | None = None
        self._meta: ImageMeta | None = None
        self._expanded: set[str] = set()
        self._overridden: set[object] = set()  # studies whose gate refusal the reader overrode
        self._rescan = QTimer(self, singleShot=True, interval=RESCAN_DELAY_MS, timeout=self.refresh_models)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(lambda _path: self._rescan.start())
        self.refresh_models()

    @property
    def models_dir(self) -> Path:
        return self._models_dir if self._models_dir is not None else paths.models_dir()

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def show_study(self, study: object, pixels: npt.NDArray[np.float32], meta: ImageMeta | None = None) -> None:
        """Read `pixels` (H, W) float32 [0, 1], air dark, with every classifier; `study` keys the cache.

        `meta` (the study's metadata) decides the cautions shown above the findings; None shows none.
        """
        if study != self._study:
            self._cancel_other_studies(study)
        self._study, self._pixels, self._meta = study, pixels, meta
        self.refresh_models()

    def clear_study(self) -> None:
        """No study is shown (it failed to load): cancel its jobs and show no findings."""
        self._cancel_other_studies(None)
        self._study, self._pixels, self._meta = None, None, None
        self._render()

    def refresh_models(self) -> None:
        """List the installed models again (after an install) and run any the shown study lacks."""
        folder = self.models_dir
        if folder.is_dir() and str(folder) not in self._watcher.directories():
            self._watcher.addPath(str(folder))
        self.entries = list_classifiers(folder)
        if self._study is not None:
            running = set(self._jobs.values())
            for entry in self.entries:
                key = (self._study, entry.name, entry.stamp)
                if entry.card is not None and key not in self.outcomes and key not in running:
                    self._submit(key)
        self._render()

    def outcome(self, name: str) -> Finding | str | None:
        """The shown study's Finding from model `name`, its error message, or None while it runs."""
        entry = next((e for e in self.entries if e.name == name), None)
        if entry is None or entry.error:
            return entry and entry.error
        return self.outcomes.get((self._study, name, entry.stamp))

    def shutdown(self) -> None:
        self._jobs.clear()
        self.runner.cancel_all()
        self.runner.wait()

    def _submit(self, key: tuple) -> None:
        _study, name, _stamp = key
        pixels, folder, classify = self._pixels, self.models_dir, self._classify
        self._next_job += 1
        self._jobs[self._next_job] = key
        self.runner.submit(self._next_job, lambda _token: classify(name, pixels, folder))

    def _cancel_other_studies(self, study: object) -> None:
        for job, key in list(self._jobs.items()):
            if key[0] != study:
                del self._jobs[job]
                self.runner.cancel(job)

    def _on_done(self, job: int, outcome: Finding | str) -> None:
        key = self._jobs.pop(job, None)
        if key is None:
            return
        if isinstance(outcome, str):
            log.warning("findings of %s: %s", key[1], outcome)
        self.outcomes[key] = outcome
        if key[0] == self._study:
            self._render()
        if not self._jobs:
            self.idle.emit()

    def _render(self) -> None:
        if not installed_models(self.models_dir):
            message = EMPTY_TEXT
        elif not self.entries:
            message = NO_CLASSIFIER_TEXT
        elif self._study is None:
            message = NO_STUDY_TEXT.format(count=len(self.entries))
        else:
            message = ""
        self.empty_label.setText(message)
        self.empty_label.setVisible(bool(message))
        self.browser.setVisible(not message)
        if message:
            return
        blocks = []
        gates = [e for e in self.entries if e.card is not None and e.card.task == "gate"]
        if gates:
            outcome = self.outcomes.get((self._study, gates[0].name, gates[0].stamp))
            verdict = gate_result(outcome) if isinstance(outcome, Finding) else outcome
            overridden = self._study in self._overridden
            blocks.append(findings_text.gate_html(verdict, overridden))
            # An error of the gate itself shows the findings under its caution: the gate is a guard, not a lock.
            if outcome is None or (isinstance(verdict, GateResult) and not findings_visible(verdict, overridden)):
                blocks = [b for b in blocks if b]
                self.browser.setHtml(findings_text.panel_html(blocks, study_cautions(self._meta)))
                return
        for entry in self.entries:
            if entry.card is not None and entry.card.task == "gate":
                continue
            outcome = entry.error or self.outcomes.get((self._study, entry.name, entry.stamp))
            blocks.append(findings_text.model_html(entry.name, entry.card, outcome, entry.name in self._expanded,
                                                   model_cautions(self._meta, entry.card)))
        blocks = [b for b in blocks if b]
        scroll = self.browser.verticalScrollBar().value()
        self.browser.setHtml(findings_text.panel_html(blocks, study_cautions(self._meta)))
        self.browser.verticalScrollBar().setValue(scroll)

    def _on_anchor(self, url: QUrl) -> None:
        kind, _, rest = url.toString(QUrl.ComponentFormattingOption.FullyEncoded).partition(":")
        if kind == "about":
            self._expanded ^= {unquote(rest)}
            self._render()
        elif url.toString() == findings_text.SHOW_ANYWAY_LINK:
            self._overridden.add(self._study)
            self._render()
        elif kind == "class":
            model, _, label = rest.partition("/")
            self.classSelected.emit(unquote(model), unquote(label))
