"""The findings area: the gate's verdict, every installed classifier's reading of the study shown,
the TB-consistent findings of the lesion model, and each model's card: one summary line per model,
its details folded under a "Details ▸" link and shown, when opened, below every summary line (the
models opened stay open from study to study).

The models run in the window's analysis service (`gui.analysis_service`), one at a time in a worker;
the panel lists the installed models, shows their outcomes for the shown study as they arrive and
re-renders from the service's cache when the reader returns to a study. An installed gate (card task
"gate") is read first: until it accepts the image, or the reader clicks "Show anyway" (remembered for
that study only), no other finding is shown, the TB lesion score included. Clicking a label selects
that class for the maps (`class_selected`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QSettings, Qt, QUrl, Signal
from PySide6.QtWidgets import QLabel, QTextBrowser, QVBoxLayout, QWidget

from cxrviewer.analysis.gate import GateResult, findings_visible
from cxrviewer.analysis.pipeline import SCREENING_LABEL, role_of
from cxrviewer.analysis.study import Classify
from cxrviewer.core.cards import ModelCard, card_path, load_card
from cxrviewer.core.errors import ModelError
from cxrviewer.core.image import ImageMeta
from cxrviewer.core.reading_words import finding_name, population_reason
from cxrviewer.core.suitability import age_fit, model_cautions, study_cautions
from cxrviewer.gui import findings_text
from cxrviewer.gui.analysis_service import FINDING_KINDS, AnalysisService
from cxrviewer.runtime.registry import installed_models

EMPTY_TEXT = "No findings yet.\nModel findings for the current study appear here once models are available."
NO_CLASSIFIER_TEXT = "None of the installed models is a classifier or a lesion-map model, so there are no findings to list."
NO_STUDY_TEXT = "Open a study: the findings of {count} installed model(s) will appear here."
EXPANDED_KEY = "findings/details_open"  # the models whose details the reader opened, kept between sessions


@dataclass(frozen=True)
class ModelEntry:
    """An installed model as the panel lists it: its card, or why the card cannot be read."""

    name: str
    card: ModelCard | None
    error: str = ""

    @property
    def kind(self) -> str:
        """The service's step kind of its outcome: "gate", "finding" or "lesions"."""
        role = role_of(self.card) if self.card is not None else None
        return {"gate": "gate", "lesions": "lesions"}.get(role, "finding")


def list_finding_models(folder: Path) -> list[ModelEntry]:
    """The cards in `folder` whose models give findings (classifiers, the gate, lesion-map models),
    and the cards that cannot be read (with their error): a TB screening classifier first (its
    score leads the findings), then by name."""
    entries = []
    for name in installed_models(folder):
        try:
            card = load_card(card_path(folder, name), verify_files=False)  # the checksums are verified by the job
        except (OSError, ModelError) as error:
            entries.append(ModelEntry(name, None, str(error)))
            continue
        if role_of(card) in ("gate", "classifier", "lesions"):
            entries.append(ModelEntry(name, card))
    return sorted(entries, key=lambda e: (e.card is None or SCREENING_LABEL not in e.card.labels, e.name))


class FindingsPanel(QWidget):
    classSelected = Signal(str, str)  # noqa: N815 (Qt's naming) model name, label
    class_selected = Signal(str, int)  # model name, class index: the class the maps should explain
    idle = Signal()  # no gate, classifier or lesion step of the shown study is queued or running
    findings_shown_changed = Signal(bool)  # findings_shown() changed (the gate's verdict, an override)

    def __init__(self, parent=None, *, service: AnalysisService | None = None, models_dir: Path | None = None,
                 classify: Classify | None = None, settings: QSettings | None = None):
        """`service`: the window's analysis service; without one the panel makes its own on
        `models_dir` and `classify` (for a panel on its own, as in tests). `settings`: where the
        models whose details are open are remembered between sessions (None: for this panel only)."""
        super().__init__(parent)
        self.service = service if service is not None else AnalysisService(self, models_dir=models_dir,
                                                                             classify=classify)
        self.empty_label = QLabel(EMPTY_TEXT, alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.empty_label.setEnabled(False)
        self.browser = QTextBrowser(openLinks=False)
        self.browser.anchorClicked.connect(self._on_anchor)
        self.browser.document().setIndentWidth(14)  # lists of limits: the dock is narrow
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.empty_label)
        layout.addWidget(self.browser)
        self.entries: list[ModelEntry] = []
        self.settings = settings
        saved = settings.value(EXPANDED_KEY) if settings is not None else None
        self._expanded: set[str] = {saved} if isinstance(saved, str) else set(saved or ())
        self._overridden: set[object] = set()  # studies whose gate refusal the reader overrode
        self._last_shown: bool | None = None  # findings_shown() when last rendered
        self.service.study_changed.connect(lambda _study, _meta: self._render())
        self.service.models_changed.connect(self._list_models)
        self.service.result_ready.connect(lambda study, kind, _key, _payload: self._on_outcome(study, kind))
        self.service.step_failed.connect(lambda study, kind, _key, _message: self._on_outcome(study, kind))
        self._list_models()

    @property
    def models_dir(self) -> Path:
        return self.service.models_dir

    @property
    def busy(self) -> bool:
        return self.service.pending(self.service.study, FINDING_KINDS)

    def show_study(self, study: object, pixels: npt.NDArray[np.float32], meta: ImageMeta | None = None) -> None:
        """Analyse `pixels` (H, W) float32 [0, 1], air dark, as `study` (the key of the service's cache).

        `meta` (the study's metadata) decides the cautions shown above the findings; None shows none.
        """
        self.service.analyse(study, pixels, meta)

    def clear_study(self) -> None:
        """No study is shown (it failed to load): drop its steps and show no findings."""
        self.service.clear()

    def refresh_models(self) -> None:
        """List the installed models again (after an install) and run any the shown study lacks."""
        self.service.refresh_models()

    def findings_shown(self) -> bool:
        """Whether the shown study's findings are on screen (and so in its reports): no gate installed,
        the gate accepted the image, the reader overrode its refusal, or the gate itself failed (it
        is a guard, not a lock: its error is shown as a caution). While the gate runs: not yet."""
        gate = self.service.roles.gate
        if gate is None:
            return True
        verdict = self.outcome(gate)
        if verdict is None:
            return False
        return not isinstance(verdict, GateResult) or findings_visible(verdict, self.service.study in self._overridden)

    def outcome(self, name: str) -> object | None:
        """The shown study's outcome from model `name` (Finding, GateResult or LesionFinding), its
        error message, or None while it runs."""
        entry = next((e for e in self.entries if e.name == name), None)
        if entry is None or entry.error:
            return entry and entry.error
        study = self.service.study
        return self.service.cached(study, entry.kind, name) or self.service.failure(study, entry.kind, name)

    def shutdown(self) -> None:
        """Stop the analysis the panel shows (at exit: the window's service stops with it)."""
        self.service.shutdown()

    def _list_models(self) -> None:
        self.entries = list_finding_models(self.models_dir)
        self._render()

    def _on_outcome(self, study: object, kind: str) -> None:
        if study != self.service.study or kind not in FINDING_KINDS:
            return
        self._render()
        if not self.busy:
            self.idle.emit()

    def _render(self) -> None:
        shown = self.findings_shown() if self.service.study is not None else False
        if shown != self._last_shown:
            self._last_shown = shown
            self.findings_shown_changed.emit(shown)
        study, meta, roles = self.service.study, self.service.meta, self.service.roles
        if not installed_models(self.models_dir):
            message = EMPTY_TEXT
        elif not self.entries:
            message = NO_CLASSIFIER_TEXT
        elif study is None:
            message = NO_STUDY_TEXT.format(count=len(self.entries))
        else:
            message = ""
        self.empty_label.setText(message)
        self.empty_label.setVisible(bool(message))
        self.browser.setVisible(not message)
        if message:
            return
        blocks = []
        if roles.gate is not None:
            blocks.append(findings_text.gate_html(self.outcome(roles.gate), study in self._overridden))
            if not self.findings_shown():
                self.browser.setHtml(findings_text.panel_html([b for b in blocks if b], study_cautions(meta)))
                return
        shown = [entry for entry in self.entries if entry.card is None or (
            entry.kind != "gate" and (entry.kind != "lesions" or entry.name in roles.lesions))]
        # (a second model of the same lesion label does not run: only the first by name does)
        blocks += [self._line_html(entry, meta) for entry in shown]
        blocks += [self._details_html(entry, meta) for entry in shown if entry.name in self._expanded]
        scroll = self.browser.verticalScrollBar().value()
        self.browser.setHtml(findings_text.panel_html([b for b in blocks if b], study_cautions(meta)))
        self.browser.verticalScrollBar().setValue(scroll)

    def _title(self, entry: ModelEntry) -> str:
        return (finding_name(entry.card.labels, entry.kind) if entry.card is not None else "") or entry.name

    def _line_html(self, entry: ModelEntry, meta: ImageMeta | None) -> str:
        """A model's summary line with its "Details" link."""
        return findings_text.model_entry_html(entry.name, self._title(entry), self.outcome(entry.name),
                                              population_reason(age_fit(meta, entry.card), entry.card),
                                              entry.name in self._expanded, model_cautions(meta, entry.card))

    def _details_html(self, entry: ModelEntry, meta: ImageMeta | None) -> str:
        """The details of a model the reader opened, below every summary line."""
        render = findings_text.lesion_html if entry.kind == "lesions" else findings_text.model_html
        details = render(entry.name, entry.card, self.outcome(entry.name), model_cautions(meta, entry.card))
        return findings_text.details_section_html(self._title(entry), details)

    @property
    def expanded(self) -> frozenset[str]:
        """The models whose details the reader opened: kept while the reader moves between studies
        (and between sessions with the window's settings)."""
        return frozenset(self._expanded)

    def _on_anchor(self, url: QUrl) -> None:
        kind, _, rest = url.toString(QUrl.ComponentFormattingOption.FullyEncoded).partition(":")
        if kind == "details":
            self._expanded ^= {unquote(rest)}
            if self.settings is not None:
                self.settings.setValue(EXPANDED_KEY, sorted(self._expanded))
            self._render()
        elif url.toString() == findings_text.SHOW_ANYWAY_LINK:
            self._overridden.add(self.service.study)
            self._render()
        elif kind == "class":
            model, _, label = rest.partition("/")
            model, label = unquote(model), unquote(label)
            self.classSelected.emit(model, label)
            entry = next((e for e in self.entries if e.name == model and e.card is not None), None)
            if entry is not None and label in entry.card.labels:
                self.class_selected.emit(model, entry.card.labels.index(label))
